"""A proxy in front of scim2-server that gives it the quirks of SCIM services met in the wild,
which scim2-server itself cannot be configured to have. The SCIM server behind it is real; the
proxy only changes what it is told or what it answers:

* ``ignores_start_index``: listings always start at the first object (as scimmy-routers did), and
  the answer's ``startIndex`` is left out (so only repeated objects betray it);
* ``drops_email_type``: users are answered without the ``type`` of their emails;
* ``races_creates``: just before a POST /Users reaches the server, "another system" creates the
  same user there (with an older display name), so the POST meets a real 409;
* ``latency``: every request waits this long first (a distant target).

It also counts the requests by method and path, for the tests' assertions."""
from __future__ import annotations

import asyncio
import copy
from collections import Counter
from urllib.parse import parse_qsl, urlencode

import httpx

from graphsync import codec
from graphsync.testing import BackgroundServer, free_port


class QuirkyTarget(BackgroundServer):
    def __init__(self, upstream: str, *, ignores_start_index: bool = False, drops_email_type: bool = False,
                 races_creates: bool = False, latency: float = 0.0):
        self.upstream = upstream
        self.ignores_start_index = ignores_start_index
        self.drops_email_type = drops_email_type
        self.races_creates = races_creates
        self.latency = latency
        self.requests: Counter[str] = Counter()
        self.raced: list[str] = []
        super().__init__(self._app, free_port(), "the quirky target")

    async def _app(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method, path = scope["method"], scope["path"]
        query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() not in (b"host", b"content-length")}
        self.requests[f"{method} {path}"] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        listing = method == "GET" and path in ("/Users", "/Groups") and not any(k == "filter" for k, _ in query)
        if listing and self.ignores_start_index:
            query = [(k, v) for k, v in query if k != "startIndex"]
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as client:
            if self.races_creates and method == "POST" and path == "/Users":
                await self._create_first(client, headers, body)
            url = path + (f"?{urlencode(query)}" if query else "")
            response = await client.request(method, url, content=body, headers=headers)
        content = response.content
        if response.headers.get("content-type", "").startswith("application/scim+json") and content:
            document = codec.loads(content)
            if listing and self.ignores_start_index:
                document.pop("startIndex", None)
            if self.drops_email_type:
                for resource in document.get("Resources", [document]):
                    for email in resource.get("emails") or []:
                        email.pop("type", None)
            content = codec.dumps_bytes(document)
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(b"content-type", response.headers.get("content-type", "application/json").encode())]})
        await send({"type": "http.response.body", "body": content})

    async def _create_first(self, client: httpx.AsyncClient, headers: dict, body: bytes) -> None:
        """Another system creates the user a moment before graphsync does."""
        document = copy.deepcopy(codec.loads(body))
        document["displayName"] = f"{document.get('displayName', '')} (created elsewhere)"
        for key in ("manager", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"):
            document.pop(key, None)
        response = await client.post("/Users", content=codec.dumps_bytes(document), headers=headers)
        if response.status_code == 201:
            self.raced.append(document["userName"])
