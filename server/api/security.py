"""Who may call what: bearer tokens checked before a resource runs."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request

from server import auth
from server.db_app import get_db
from server.errors import Forbidden

# Whom each check admits, as its 403 says it in the spec ("Not <who>").
_ADMITTED = {
    "admin": "an admin of this event",
    "desk": "an admin or desk device of this event",
    "door": "a door device or admin of this event",
    "attendee": "an attendee's personal token",
}


def refusals(error: object, check: str) -> dict[int, tuple[str, object]]:
    """The 401 and 403 a route behind `<check>_required` can answer, for `@ns.doc(responses=...)`."""
    return {401: ("No valid token", error), 403: (f"Not {_ADMITTED[check]}", error)}


AUTHORIZATIONS = {
    "bearer": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Authorization: Bearer <token>",
    }
}


def admin_required(method: Callable) -> Callable:
    """The caller must hold an admin token valid for the event in the URL."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        token = auth.authenticate(get_db(), request.headers.get("Authorization"))
        auth.require_role(token, "admin", kwargs.get("event"))
        g.token = token
        return method(*args, **kwargs)

    return wrapper


def attendee_required(method: Callable) -> Callable:
    """The caller must hold an attendee's personal token; g.attendee_pk says whose."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        token = auth.authenticate(get_db(), request.headers.get("Authorization"))
        if token["role"] != "attendee" or "attendee_pk" not in token:
            raise Forbidden(f"this needs an attendee's personal token; yours has role {token['role']!r}")
        g.token, g.attendee_pk = token, token["attendee_pk"]
        return method(*args, **kwargs)

    return wrapper


def _event_token_required(admits: Callable[[dict], bool], refusal: Callable[[dict], str]) -> Callable:
    """A decorator: the caller's token must be `admits`-ible and valid for the event in the URL."""

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            token = auth.authenticate(get_db(), request.headers.get("Authorization"))
            if not admits(token):
                raise Forbidden(refusal(token))
            auth.require_role(token, token["role"], kwargs.get("event"))
            g.token = token
            return method(*args, **kwargs)

        return wrapper

    return decorator


door_required = _event_token_required(
    lambda token: token["role"] in ("door", "admin"),
    lambda token: f"this needs a door device's or an admin's token; yours has role {token['role']!r}",
)
door_required.__doc__ = "A door device's token for the event in the URL (an admin may act as a door too)."

desk_required = _event_token_required(
    lambda token: token["role"] == "admin" or (token["role"] == "door" and token.get("desk")),
    lambda token: (
        "this needs a token with role 'admin' or a desk device's; yours has "
        + ("a door device without desk" if token["role"] == "door" else f"role {token['role']!r}")
    ),
)
desk_required.__doc__ = "An admin of the event in the URL, or one of its door devices made with `desk`."


def admin_or_attendee_required(method: Callable) -> Callable:
    """An admin of the event in the URL (g.attendee_pk None), or an attendee (g.attendee_pk says whose).

    The resource's domain function decides what that attendee may see.
    """

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        token = auth.authenticate(get_db(), request.headers.get("Authorization"))
        if token["role"] == "attendee" and "attendee_pk" in token:
            g.token, g.attendee_pk = token, token["attendee_pk"]
        else:
            auth.require_role(token, "admin", kwargs.get("event"))
            g.token, g.attendee_pk = token, None
        return method(*args, **kwargs)

    return wrapper
