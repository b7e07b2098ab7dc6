"""A minimal in-process SCIM 2.0 target (an ASGI app kept in dicts) so a benchmark measures the
engine, not the target. Supports what the engine uses: POST, GET by id, paged listing, ``eq``
filters, PATCH (applied loosely) and DELETE."""
from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class FastScim:
    def __init__(self):
        self.resources: dict[str, dict[str, dict]] = {"Users": {}, "Groups": {}}
        self.unique: dict[str, dict[str, str]] = {"Users": {}, "Groups": {}}
        self.calls = 0

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
        ident = parts[-1] if parts[-1] not in self.resources else None
        status, payload = self.handle(scope["method"], kind, ident, parse_qs(scope["query_string"].decode()),
                                      json.loads(body) if body else None)
        data = json.dumps(payload).encode() if payload is not None else b""
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/scim+json")]})
        await send({"type": "http.response.body", "body": data})

    def handle(self, method, kind, ident, query, body):
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
