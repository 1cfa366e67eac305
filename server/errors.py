"""Domain errors. The HTTP layer turns each into `{"error", "message", "fields"?}` in one place."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, **extra: object):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra

    def to_dict(self) -> dict:
        body: dict = {"error": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class ValidationError(DomainError):
    status = 422
    code = "validation_failed"


class BadParameter(DomainError):
    """A query-string parameter that cannot be understood."""

    status = 400
    code = "bad_parameter"


class InvalidInput(DomainError):
    """A request body that is not JSON or does not fit the input model."""

    status = 400
    code = "invalid_input"


class Unauthorized(DomainError):
    """No usable credentials; `challenge` is the WWW-Authenticate header that says what to send."""

    status = 401
    code = "unauthorized"
    challenge = 'Bearer realm="eventdesk"'


class InvalidToken(Unauthorized):
    """A bearer token was sent, but it is unknown or revoked."""

    challenge = 'Bearer realm="eventdesk", error="invalid_token"'


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ScanIdReused(Conflict):
    """A device sent a scan_id it already used, with a different request."""

    code = "scan_id_reused"


class Gone(DomainError):
    status = 410
    code = "gone"


class ConfigurationError(ValueError):
    """A setting or file the server cannot start with; the message says which and why."""
