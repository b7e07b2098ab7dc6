"""What every route uses: run a service call in one tenant transaction, render responses."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from graphsync.errors import NotFound
from graphsync.services.synchronization import resolve_owner
from graphsync.services.tokens import Principal

VERSIONS = ("v1.0", "beta")


def check_version(request: Request, version: str) -> str:
    if version not in VERSIONS:
        raise NotFound(f"Unknown API version '{version}'; use v1.0 or beta.", code="UnknownError")
    if "\x00" in request.scope["path"]:
        raise NotFound("No resource has an identifier with a NUL character.")
    return version


async def call(request: Request, principal: Principal, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(ctx, *args)`` in one transaction of the principal's tenant, off the event loop: a
    read-only one for GET and HEAD, which change nothing."""
    runtime = request.app.state.runtime
    read_only = request.method in ("GET", "HEAD")

    def work():
        with runtime.unit(principal.tenant_id, read_only=read_only) as ctx:
            return fn(ctx, *args)

    return await run_in_threadpool(work)


async def call_owned(request: Request, principal: Principal, root: str, owner_id: str,
                     fn: Callable[..., Any], *args: Any) -> Any:
    """Like ``call`` for things under ``{root}/{id}/synchronization``: ``fn(ctx, owner, *args)``."""
    return await call(request, principal, lambda ctx: fn(ctx, resolve_owner(ctx, root, owner_id), *args))


async def wake_engine(request: Request, principal: Principal, owner_id: str, job_id: str) -> None:
    """After a commit the engine should act on (start, restart, records staged)."""
    await run_in_threadpool(request.app.state.runtime.wake_engine, principal.tenant_id, owner_id, job_id)


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def limit(request: Request) -> int:
    return request.app.state.runtime.settings.max_body_bytes
