"""Emulator conveniences (only with GRAPHSYNC_EMULATOR=true): a fresh tenant per test, no set-up."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from graphsync.errors import NotFound

router = APIRouter(prefix="/graphsync", tags=["emulator"])


@router.post("/tenants")
async def new_tenant(request: Request):
    """A new, empty tenant with an all-permissions client and a ready access token."""
    runtime = request.app.state.runtime
    if not runtime.settings.emulator:
        raise NotFound("The tenant factory is available only when GRAPHSYNC_EMULATOR=true.", code="UnknownError")
    name = request.query_params.get("displayName", "Test tenant")[:256]
    return JSONResponse(await run_in_threadpool(runtime.new_tenant_with_admin, name), status_code=201)


@router.get("/health")
async def health():
    return {"status": "ok"}
