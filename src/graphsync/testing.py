"""graphsync as an emulator inside your own test suite.

    from graphsync.testing import EmulatorServer

    with EmulatorServer() as server:              # in-memory store, free port, tenant factory on
        tenant = server.new_tenant()              # fresh, empty, isolated; all permissions
        base_url = f"{server.url}/v1.0"           # point the Graph SDK here
        token = tenant["accessToken"]

Each test can take its own tenant; tenants never see each other's data.
"""
from __future__ import annotations

import socket
import threading
import time
import uuid
from urllib.parse import parse_qs

import httpx

import uvicorn

from graphsync import codec
from graphsync.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BackgroundServer:
    """An ASGI app served by uvicorn on 127.0.0.1 from a background thread."""

    def __init__(self, app, port: int, name: str = "background-server"):
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                interface="asgi3")
        self.port = port
        self.name = name
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30):
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class EmulatorServer(BackgroundServer):
    """A real graphsync HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings | None = None, clock=None):
        from graphsync.api.app import create_app

        self.settings = settings or Settings(database_url="memory", emulator=True, port=free_port())
        self.app = create_app(self.settings, clock=clock)
        self.runtime = self.app.state.runtime
        super().__init__(self.app, self.settings.port, "the graphsync emulator")

    def stop(self) -> None:
        super().stop()
        self.runtime.close()

    def new_tenant(self, display_name: str = "test") -> dict:
        """A fresh tenant with an all-permissions client: tenantId, clientId, clientSecret, accessToken."""
        return self.runtime.new_tenant_with_admin(display_name)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_SCIM_HEADERS = {"content-type": "application/scim+json"}


class InMemoryScimTarget:
    """A minimal in-process SCIM 2.0 service (an ASGI app kept in dicts) for engine tests and
    benchmarks that should measure the engine, not a target. Supports what the engine uses:
    POST, GET by id, paged listing, ``eq`` filters, PATCH (applied loosely) and DELETE.
    ``fail(method, kind, body)`` may return an HTTP status to answer instead (fault tests)."""

    def __init__(self, fail=None, token: str | None = None):
        self.fail = fail
        self.token = token
        self.resources: dict[str, dict[str, dict]] = {"Users": {}, "Groups": {}}
        self.unique: dict[str, dict[str, str]] = {"Users": {}, "Groups": {}}
        self.calls = 0
        self.bulk_calls = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        parts = [p for p in scope["path"].split("/") if p]
        kind = parts[-2] if len(parts) >= 2 and parts[-2] in self.resources else parts[-1]
        if kind == "Bulk":
            self.bulk_calls += 1
        ident = parts[-1] if parts[-1] not in self.resources else None
        parsed = codec.loads(body) if body else None
        headers = dict(scope["headers"])
        if self.token and headers.get(b"authorization") != f"Bearer {self.token}".encode():
            status, payload = 401, {"status": "401", "detail": "bad token"}
        elif self.fail and (forced := self.fail(scope["method"], kind, parsed)):
            status, payload = forced, {"status": str(forced), "detail": "injected"}
        else:
            status, payload = self.handle(scope["method"], kind, ident, parse_qs(scope["query_string"].decode()),
                                          parsed)
        data = codec.dumps_bytes(payload) if payload is not None else b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/scim+json")]})
        await send({"type": "http.response.body", "body": data})

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport that calls this target directly (no ASGI machinery): for measuring
        the engine rather than the plumbing."""
        target = self

        class Direct(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                target.calls += 1
                content = await request.aread()
                parts = [p for p in request.url.path.split("/") if p]
                kind = parts[-2] if len(parts) >= 2 and parts[-2] in target.resources else parts[-1]
                if kind == "Bulk":
                    target.bulk_calls += 1
                ident = parts[-1] if parts[-1] not in target.resources else None
                parsed = codec.loads(content) if content else None
                if target.token and request.headers.get("authorization") != f"Bearer {target.token}":
                    status, payload = 401, {"status": "401", "detail": "bad token"}
                elif target.fail and (forced := target.fail(request.method, kind, parsed)):
                    status, payload = forced, {"status": str(forced), "detail": "injected"}
                else:
                    status, payload = target.handle(request.method, kind, ident,
                                                    parse_qs(request.url.query.decode()), parsed)
                if payload is None:
                    return httpx.Response(status)
                return httpx.Response(status, content=codec.dumps_bytes(payload), headers=_SCIM_HEADERS)

        return Direct()

    def handle(self, method, kind, ident, query, body):
        if kind == "ServiceProviderConfig":
            return 200, {"bulk": {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576},
                         "patch": {"supported": True}, "filter": {"supported": True, "maxResults": 200}}
        if kind == "Bulk" and method == "POST":
            results = []
            for operation in body.get("Operations", []):
                target = operation["path"].strip("/")
                status, payload = self.handle("POST", target, None, {}, operation.get("data"))
                result = {"method": "POST", "bulkId": operation.get("bulkId"), "status": str(status)}
                if status == 201:
                    result["location"] = f"http://scim.test/{target}/{payload['id']}"
                else:
                    result["response"] = payload
                results.append(result)
            return 200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": results}
        store = self.resources[kind]
        key = "userName" if kind == "Users" else "displayName"
        if method == "POST":
            if body.get(key, "").lower() in self.unique[kind]:
                return 409, {"detail": "uniqueness", "status": "409"}
            resource = dict(body, id=uuid.uuid4().hex)
            store[resource["id"]] = resource
            self.unique[kind][body[key].lower()] = resource["id"]
            return 201, resource
        if method == "GET" and ident:
            return (200, store[ident]) if ident in store else (404, {"status": "404"})
        if method == "GET":
            if "filter" in query:
                attribute, _, value = query["filter"][0].partition(" eq ")
                value = value.strip('"').lower()
                hits = [r for r in store.values() if str(r.get(attribute, "")).lower() == value]
                return 200, {"schemas": [LIST], "totalResults": len(hits), "Resources": hits}
            start = int(query.get("startIndex", ["1"])[0])
            count = int(query.get("count", ["100"])[0])
            items = list(store.values())[start - 1:start - 1 + count]
            return 200, {"schemas": [LIST], "totalResults": len(store), "startIndex": start,
                         "itemsPerPage": len(items), "Resources": items}
        if method == "PATCH":
            if ident not in store:
                return 404, {"status": "404"}
            for operation in body.get("Operations", []):
                if "path" in operation and "[" not in operation["path"] and "value" in operation:
                    store[ident][operation["path"]] = operation["value"]
            return 204, None
        if method == "DELETE":
            resource = store.pop(ident, None)
            if resource:
                self.unique[kind].pop(str(resource.get(key, "")).lower(), None)
            return 204, None
        return 405, {"status": "405"}
