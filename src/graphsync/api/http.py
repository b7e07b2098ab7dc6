"""Graph's HTTP conventions: error bodies, request ids, tolerant paths, bounded JSON bodies."""
from __future__ import annotations

import contextvars
import logging
import re
import uuid
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from graphsync.errors import BadRequest, GraphError, PayloadTooLarge, UnsupportedMediaType
from graphsync.json_body import load_object

log = logging.getLogger("graphsync.api")
request_ids: contextvars.ContextVar[tuple[str, str | None]] = contextvars.ContextVar("request_ids", default=("", None))
Model = TypeVar("Model", bound=BaseModel)
JSON_TYPES = ("application/json", "application/scim+json", "text/json")


def error_body(code: str, message: str) -> dict[str, Any]:
    request_id, client_request_id = request_ids.get()
    return {"error": {"code": code, "message": message, "innerError": {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


_GRAPH_ROOTS = ("/v1.0/", "/beta/")


class GraphConventions:
    """Pure ASGI middleware: collapses repeated slashes (the SDK sends ``//`` when its base URL
    ends with ``/``) and drops a trailing one from Graph paths, assigns ``request-id``, echoes
    ``client-request-id``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if "//" in path:
            scope = dict(scope, path=re.sub("/{2,}", "/", path), raw_path=re.sub(b"/{2,}", b"/", scope["raw_path"]))
        if scope["path"].endswith("/") and scope["path"].startswith(_GRAPH_ROOTS):
            # Graph answers /auditLogs/provisioning/ as /auditLogs/provisioning (Entra's own inbound
            # provisioning samples send it so); a redirect would cost clients a round trip or fail them
            scope = dict(scope, path=scope["path"].rstrip("/"), raw_path=scope["raw_path"].rstrip(b"/"))
        request_id = str(uuid.uuid4())
        client_request_id = None
        for name, value in scope["headers"]:
            if name == b"client-request-id":
                client_request_id = value.decode("latin-1")[:128]
        token = request_ids.set((request_id, client_request_id))
        started = False

        async def send_with_ids(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"request-id", request_id.encode()))
                headers.append((b"client-request-id", (client_request_id or request_id).encode("latin-1")))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        except Exception:
            if started:
                raise
            log.exception("unhandled error (request-id %s)", request_id)
            response = error_response(500, "InternalServerError", "An unexpected error occurred; it has been logged.")
            await response(scope, receive, send_with_ids)
        finally:
            request_ids.reset(token)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GraphError)
    async def graph_error(_request: Request, exc: GraphError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        return error_response(400, "BadRequest", describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(404, "UnknownError",
                                  f"No HTTP resource was found that matches the request URI '{request.url.path}'.")
        if exc.status_code == 405:
            return error_response(405, "Request_BadRequest",
                                  f"The HTTP method '{request.method}' is not allowed on '{request.url.path}'.",
                                  headers={"Allow": allowed_methods(request) or (exc.headers or {}).get("Allow", "")})
        return error_response(exc.status_code, "BadRequest", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "InternalServerError", "An unexpected error occurred; it has been logged.")


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route of the app takes on this path, found by asking the routes whether
    they would take the request with each method. Starlette's Allow names only the methods of the
    first route whose path matched, and most paths here have a route per method."""
    routes = request.app.router.routes
    allowed = [method for method in METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]
    return ", ".join(allowed)


LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def public_base(request: Request) -> str:
    """The scheme and authority of absolute links (``@odata.nextLink``, ``@odata.context``, the
    bulkUpload ``Location``): GRAPHSYNC_PUBLIC_URL when set; else the request's Host if it names
    this server (its host:port, localhost or a GRAPHSYNC_TRUSTED_HOSTS entry), so links work for
    whoever reached it by that name; else the configured base URL. Any other Host is never
    reflected: a forged one would otherwise send the client's next request, and its token, there."""
    settings = request.app.state.runtime.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = request.headers.get("host", "")
    scheme = request.url.scheme
    if host and _trusted(host, scheme, settings):
        return f"{scheme}://{host}"
    return settings.base_url


def public_url(request: Request) -> str:
    """The request's own URL without its query, on ``public_base``."""
    return public_base(request) + request.url.path


def _host_and_port(authority: str) -> tuple[str, int | None] | None:
    """``host[:port]`` split (the port None when not given), or None when it is not just that."""
    try:
        parts = urlsplit(f"//{authority.strip()}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.path:
        return None
    return parts.hostname.lower(), port


def _trusted(host: str, scheme: str, settings) -> bool:
    given = _host_and_port(host)
    if given is None:
        return False
    name, port = given[0], given[1] if given[1] is not None else {"http": 80, "https": 443}.get(scheme)
    if port == settings.port and name in (settings.host.lower(), *LOCAL_NAMES):
        return True
    for entry in settings.trusted_hosts.split(","):
        allowed = _host_and_port(entry) if entry.strip() else None
        if allowed is not None and allowed[0] == name and allowed[1] in (None, port):
            return True  # an entry without a port trusts the name on any port
    return False


def describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:10]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body",))
        kind = error.get("type", "")
        if kind == "extra_forbidden":
            parts.append(f"The property '{location}' does not exist on this type.")
        elif kind == "missing":
            parts.append(f"The property '{location}' is required.")
        else:
            parts.append(f"Invalid value for '{location}': {error.get('msg', 'invalid')}.")
    return " ".join(parts) or "The request body is invalid."


def strip_odata(value: Any) -> Any:
    """Drop OData control information (``@odata.type``, ``x@odata.type``) that clients may send."""
    if isinstance(value, dict):
        return {k: strip_odata(v) for k, v in value.items() if "@odata." not in k}
    if isinstance(value, list):
        return [strip_odata(v) for v in value]
    return value


async def read_body(request: Request, limit: int, *, content_types: tuple[str, ...] = JSON_TYPES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    body = b"".join(chunks)
    if body.strip():
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in content_types:
            raise UnsupportedMediaType(f"The content type '{media or 'none'}' is not supported; send "
                                       f"{' or '.join(content_types[:2])}.")
    return body


async def read_json(request: Request, model: type[Model], limit: int, *, required: bool = True) -> Model | None:
    """The request body validated against ``model``: malformed JSON, unknown or mistyped
    properties and missing required ones are all a 400 with a Graph error body."""
    raw = await read_body(request, limit)
    if not raw.strip():
        if required:
            raise BadRequest("A request body is required.")
        return None
    return validate_body(model, load_object(raw))


def validate_body(model: type[Model], data: dict) -> Model:
    """``data`` (a request body's object) as ``model``, its OData control information dropped;
    what does not fit is a 400 saying why."""
    try:
        return model.model_validate(strip_odata(data))
    except RecursionError:
        raise BadRequest("The request body is nested too deeply.") from None
    except ValidationError as exc:
        raise BadRequest(describe_validation(exc.errors())) from None
