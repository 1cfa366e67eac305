"""Named exit codes, and the errors that carry them to the command line."""

from __future__ import annotations

OK = 0
USER_ERROR = 1  # bad input, unknown id, nothing to do
USAGE = 2  # click's own code for wrong options
OFFLINE_NO_CACHE = 3  # no network and nothing cached to answer from
REFUSED = 4  # the server refused the token (401/403)


class CliError(Exception):
    """A failure to report in one line on stderr, with its exit code."""

    exit_code = USER_ERROR

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Offline(CliError):
    """The server could not be reached (no network, timeout, refused connection)."""

    exit_code = OFFLINE_NO_CACHE


class NoCache(CliError):
    """Nothing is cached for this server and event, and the server could not fill the cache."""

    exit_code = OFFLINE_NO_CACHE


class Refused(CliError):
    """The server answered 401 or 403: the token is wrong, revoked or lacks the role."""

    exit_code = REFUSED

    def __init__(self, message: str, status: int = 401, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class ServerError(CliError):
    """The server answered with an error other than auth; the message is the server's."""

    def __init__(self, message: str, status: int, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class DamagedCache(CliError):
    """The cache file cannot be read (not SQLite, or from another version of eventdesk)."""

    exit_code = OFFLINE_NO_CACHE
