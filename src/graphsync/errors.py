"""Graph errors. Services raise them; the API renders them as Graph error bodies."""
from __future__ import annotations


class GraphError(Exception):
    status: int = 400
    code: str = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}


class BadRequest(GraphError):
    status, code = 400, "BadRequest"


class Unauthorized(GraphError):
    status, code = 401, "InvalidAuthenticationToken"


class Forbidden(GraphError):
    status, code = 403, "Authorization_RequestDenied"


class NotFound(GraphError):
    status, code = 404, "Request_ResourceNotFound"


class MethodNotAllowed(GraphError):
    status, code = 405, "Request_BadRequest"


class Conflict(GraphError):
    status, code = 409, "Request_Conflict"


class PayloadTooLarge(GraphError):
    status, code = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(GraphError):
    status, code = 415, "UnsupportedMediaType"


class TooManyRequests(GraphError):
    status, code = 429, "TooManyRequests"


class NotImplementedYet(GraphError):
    """An operation whose real behaviour needs a part that has not landed (never a fake success)."""

    status, code = 501, "NotImplemented"


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"Resource '{ident}' of type '{kind}' does not exist or one of its queried reference-property objects are not present.")
