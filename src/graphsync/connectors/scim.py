"""The outbound SCIM 2.0 connector: an async client with connection reuse, bounded concurrency
and Entra's error taxonomy (the HTTP itself: ``wire.py``).

* 429 honours ``Retry-After``; 5xx (but 501), timeouts and connection errors are transient and
  retried with back-off inside the call, then raised as transient (the engine escrows the object);
* other 4xx, and 501 Not Implemented, are permanent for that object (raised at once);
* 401/403 are credential failures (the engine may quarantine the job).

An error says the status and, from a SCIM error body only, its ``scimType`` and a short, cleaned
``detail``: what a target answers is never echoed beyond that, so pointing a job at an internal URL
reveals nothing of what lives there. Writes can be guarded (``before_write``): a cycle whose lease
is no longer provably held raises there, before anything reaches the target.
"""
from __future__ import annotations

import asyncio
import http
import random
import re
import urllib.request
import uuid
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote, urlencode

import httpx

from graphsync import codec
from graphsync.connectors.wire import AiohttpWire, Answer, HttpxWire, Wire, WireError, WireTimeout, base_url
from graphsync.metrics import observe_target

SCIM_JSON = "application/scim+json"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class ScimError(Exception):
    """A failed SCIM call. ``code`` is the Entra provisioning error code for logs."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "WebExceptionProtocolError",
                 transient: bool = False, credentials: bool = False):
        super().__init__(message)
        self.status = status
        self.code = code
        self.transient = transient
        self.credentials = credentials


_STATUS_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "InsufficientRights", 404: "InvalidAnchor",
                 405: "MethodNotAllowed", 409: "EntryConflict", 422: "UnprocessableEntity",
                 429: "TooManyRequests", 501: "NotImplemented"}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0


Sleep = Callable[[float], Awaitable[None]]
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_TYPES = frozenset({"invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath",
                        "noTarget", "invalidValue", "invalidVers", "sensitive"})  # RFC 7644 §3.12
DETAIL_LIMIT = 200  # characters of a SCIM error's detail kept in messages and logs
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass
class ListingCheck:
    """What a paged listing found wrong with the target's paging. A target that ignores
    ``startIndex``, repeats objects or lists fewer than its ``totalResults`` gives an incomplete
    listing: what is not in it may still exist in the target."""

    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems


class ScimClient:
    def __init__(self, base_address: str, token: str | None, *, concurrency: int = 8, timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(), sleep: Sleep = asyncio.sleep,
                 transport: httpx.AsyncBaseTransport | None = None,
                 before_write: Callable[[], None] | None = None):
        headers = [("Accept", SCIM_JSON + ", application/json")]
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        self._headers = headers
        self._json_headers = headers + [("Content-Type", SCIM_JSON)]
        self.base = base_url(base_address)
        self._wire: Wire = HttpxWire(transport, timeout=timeout) if transport is not None else \
            AiohttpWire(concurrency=concurrency, timeout=timeout, proxy=_environment_proxy(self.base))
        self.concurrency = concurrency
        self._gate = asyncio.Semaphore(concurrency)
        self._retry = retry
        self._sleep = sleep
        self._bulk: _BulkCreates | None = None
        self._before_write = before_write
        self.requests = 0

    async def aclose(self) -> None:
        await self._wire.aclose()

    async def __aenter__(self) -> ScimClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # -- the calls the engine makes -------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        """How many creates travel together (1 without /Bulk)."""
        return self._bulk.size if self._bulk is not None else 1

    async def search(self, resource: str, filter_: str, *, attributes: str | None = None,
                     excluded: str | None = None) -> list[dict[str, Any]]:
        params = {"filter": filter_}
        if attributes:
            params["attributes"] = attributes
        if excluded:
            params["excludedAttributes"] = excluded
        body = await self._call("GET", f"/{resource}", params=params)
        return list((body or {}).get("Resources") or [])

    async def count(self, resource: str) -> int | None:
        """How many resources the target says it has (totalResults of a one-item page); None when
        it does not say."""
        body = await self._call("GET", f"/{resource}", params={"startIndex": 1, "count": 1}) or {}
        return _integer(body.get("totalResults"))

    async def list_all(self, resource: str, page_size: int = 200, *, excluded: str | None = None,
                       check: ListingCheck | None = None) -> AsyncIterator[list[dict[str, Any]]]:
        """Every resource, in pages (RFC 7644 §3.4.2.4 index paging). The paging is not trusted:
        ``check`` collects what was wrong with it (an answered ``startIndex`` other than the one
        asked for, an object listed twice, fewer objects than ``totalResults``), and a page that
        repeats an object ends the listing (a target ignoring ``startIndex`` would repeat its
        first page forever)."""
        check = check if check is not None else ListingCheck()
        seen: set[str] = set()
        start = 1
        while True:
            params: dict[str, Any] = {"startIndex": start, "count": page_size}
            if excluded:
                params["excludedAttributes"] = excluded
            body = await self._call("GET", f"/{resource}", params=params) or {}
            page = list(body.get("Resources") or [])
            answered = _integer(body.get("startIndex"))
            if page and answered is not None and answered != start:
                check.problems.append(f"asked for startIndex {start}, the target answered startIndex {answered}")
            ids = [item.get("id") for item in page if isinstance(item, dict)]
            if any(i in seen for i in ids):
                check.problems.append(f"the page at startIndex {start} repeats objects of earlier pages")
                return
            seen.update(ids)
            if page:
                yield page
            total = _integer(body.get("totalResults"))
            if total is None and page:
                check.problems.append("the target's listing has no totalResults")
                return
            start += len(page)
            if not page or start > (total or 0):
                if len(seen) < (total or 0):
                    check.problems.append(f"the target listed {len(seen)} of its {total} objects")
                return

    async def get(self, resource: str, resource_id: str, *, excluded: str | None = None) -> dict[str, Any] | None:
        try:
            return await self._call("GET", f"/{resource}/{quote(resource_id, safe='')}",
                                    params={"excludedAttributes": excluded} if excluded else None)
        except ScimError as exc:
            if exc.status == 404:
                return None
            raise

    async def create(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._bulk is not None:
            return await self._bulk.create(resource, body)
        created = await self._call("POST", f"/{resource}", json_body=body)
        if not isinstance(created, dict) or not created.get("id"):
            raise ScimError(f"POST /{resource} answered without an id",
                            code="SystemForCrossDomainIdentityManagementServiceIncompatible")
        return created

    async def patch(self, resource: str, resource_id: str, operations: list[dict[str, Any]]) -> None:
        if operations:
            await self._call("PATCH", f"/{resource}/{quote(resource_id, safe='')}",
                             json_body={"schemas": [PATCH_SCHEMA], "Operations": operations})

    async def delete(self, resource: str, resource_id: str) -> None:
        try:
            await self._call("DELETE", f"/{resource}/{quote(resource_id, safe='')}")
        except ScimError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise

    async def enable_bulk(self, limit: int = 100) -> int:
        """Send creates as RFC 7644 /Bulk requests when the target announces bulk support (up to
        ``limit`` or its maxOperations per request); returns the batch size, 0 when not used."""
        try:
            config = await self._call("GET", "/ServiceProviderConfig") or {}
        except ScimError as exc:
            if exc.credentials:
                raise
            return 0
        bulk = config.get("bulk") or {}
        size = min(limit, int(bulk.get("maxOperations") or 0)) if bulk.get("supported") else 0
        self._bulk = _BulkCreates(self, size) if size > 1 else None
        return size if self._bulk else 0

    async def bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = await self._call("POST", "/Bulk", json_body={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
        return list((body or {}).get("Operations") or [])

    async def check_credentials(self) -> None:
        """Entra's "Test connection": a filter on a random value must answer 200 with no match."""
        await self.search("Users", f'userName eq "{uuid.uuid4()}"')

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, params: dict | None = None,
                    json_body: Any = None) -> Any:
        content = codec.dumps_bytes(json_body) if json_body is not None else None
        headers = self._json_headers if content is not None else self._headers
        url = f"{self.base}{path}?{urlencode(params)}" if params else self.base + path
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate:
                    if method != "GET" and self._before_write is not None:
                        self._before_write()  # may raise: nothing is sent
                    self.requests += 1
                    response = await self._send(method, url, headers, content)
            except WireTimeout as exc:
                error = ScimError(f"{method} {path} timed out", code="Timeout", transient=True)
                cause: Exception = exc
            except WireError as exc:
                error = ScimError(f"{method} {path} failed: {exc}", code="WebExceptionProtocolError",
                                  transient=True)
                cause = exc
            else:
                if response.status < 300:
                    return _json(response)
                error = _error(method, path, response)
                cause = None
                if response.status == 429:
                    if attempt < self._retry.attempts:
                        await self._sleep(min(_retry_after(response, self._backoff(attempt)),
                                              self._retry.max_retry_after))
                        continue
                    raise error
            if not error.transient or attempt >= self._retry.attempts:
                raise error from cause
            await self._sleep(self._backoff(attempt))

    async def _send(self, method: str, url: str, headers: list[tuple[str, str]], content: bytes | None) -> Answer:
        started = perf_counter()
        try:
            answer = await self._wire.send(method, url, headers, content)
        except Exception:
            observe_target(method, 0, perf_counter() - started)  # no answer: timeout, reset …
            raise
        observe_target(method, answer.status, perf_counter() - started)
        return answer

    def _backoff(self, attempt: int) -> float:
        delay = min(self._retry.base_delay * 2 ** (attempt - 1), self._retry.max_delay)
        return delay * (0.5 + random.random() / 2)


def _environment_proxy(base: str) -> str | None:
    """HTTP(S)_PROXY / NO_PROXY from the environment, as an httpx client would honour them."""
    url = httpx.URL(base)
    if not url.host or urllib.request.proxy_bypass(url.host):
        return None
    return urllib.request.getproxies().get(url.scheme)


def _json(response: Answer) -> Any:
    if response.status == 204 or not response.content:
        return None
    try:
        return codec.loads(response.content)
    except ValueError:
        raise ScimError(f"the target answered {response.status} with a body that is not JSON",
                        status=response.status,
                        code="SystemForCrossDomainIdentityManagementServiceIncompatible") from None


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _transient(status: int) -> bool:
    """Worth retrying: throttling and server errors, but not 501 (the target will never do it)."""
    return status == 429 or (status >= 500 and status != 501)


def error_for(method: str, path: str, status: int, body: Any) -> ScimError:
    """The error of a failed call, worded from its status and, when ``body`` is a SCIM error
    (RFC 7644 §3.12: its ``status`` is the HTTP status), its scimType and a short detail."""
    reason = f"HTTP {status}"
    try:
        reason += f" ({http.HTTPStatus(status).phrase})"
    except ValueError:
        pass
    if isinstance(body, dict) and (ERROR_SCHEMA in (body.get("schemas") or [])
                                   or str(body.get("status", "")).strip() == str(status)):
        scim_type = body.get("scimType")
        if scim_type in SCIM_TYPES:
            reason += f" {scim_type}"
        detail = _UNPRINTABLE.sub(" ", str(body.get("detail") or "")).strip()
        if detail:
            reason += ": " + (detail if len(detail) <= DETAIL_LIMIT else detail[:DETAIL_LIMIT - 1] + "…")
    code = _STATUS_CODES.get(status, "InternalServerError" if status >= 500 else "WebExceptionProtocolError")
    return ScimError(f"{method} {path} answered {reason}", status=status, code=code, transient=_transient(status),
                     credentials=status in (401, 403))


def _error(method: str, path: str, response: Answer) -> ScimError:
    try:
        body = codec.loads(response.content) if response.content else None
    except ValueError:
        body = None
    return error_for(method, path, response.status, body)


def _retry_after(response: Answer, fallback: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return fallback


class _BulkCreates:
    """Gathers the creates issued in the same turn of the event loop (a page's worth, in an
    initial cycle) into /Bulk requests; each caller gets its own result or error, as if it had
    POSTed alone (a 409 stays a 409, so the engine matches and updates)."""

    def __init__(self, client: ScimClient, size: int):
        self.client = client
        self.size = size
        self.pending: list[tuple[str, dict[str, Any], asyncio.Future]] = []
        self.scheduled = False

    async def create(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((resource, body, future))
        if len(self.pending) >= self.size:
            self._flush()
        elif not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self.scheduled = False
        batch, self.pending = self.pending, []
        if batch:
            asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: list[tuple[str, dict[str, Any], asyncio.Future]]) -> None:
        operations = [{"method": "POST", "path": f"/{resource}", "bulkId": str(index), "data": body}
                      for index, (resource, body, _) in enumerate(batch)]
        try:
            results = {str(op.get("bulkId")): op for op in await self.client.bulk(operations)}
        except ScimError as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for index, (resource, body, future) in enumerate(batch):
            result = results.get(str(index)) or {}
            status = int(result.get("status") or 0)
            location = result.get("location") or ""
            if 200 <= status < 300 and location:
                future.set_result({**body, "id": location.rstrip("/").rsplit("/", 1)[-1]})
                continue
            if not status:
                future.set_exception(ScimError(
                    f"POST /{resource} (in /Bulk) answered nothing",
                    code="SystemForCrossDomainIdentityManagementServiceIncompatible"))
            else:
                future.set_exception(error_for("POST", f"/{resource} (in /Bulk)", status, result.get("response")))
