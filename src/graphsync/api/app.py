"""The ASGI application: Graph routes for v1.0 and beta on both roots, the token service,
and Graph's conventions (errors, request ids, tolerant paths)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from graphsync import __version__, metrics
from graphsync.api.http import GraphConventions, install_error_handlers
from graphsync.api.routes import (applications, audit, bulk_upload, dashboard, directory, emulator, oauth, schema,
                                  synchronization)
from graphsync.clock import Clock
from graphsync.config import Settings
from graphsync.runtime.runtime import Runtime


def create_app(settings: Settings | None = None, clock: Clock | None = None,
               runtime: Runtime | None = None) -> FastAPI:
    """The app on ``runtime``, or on a runtime of its own whose engine stops when the server shuts
    down (SIGTERM, Ctrl-C): after its page in flight, its leases released, so another process takes
    the job on at once instead of when the lease expires. (It starts again with the app, as a test
    client that enters the app twice does.)"""
    owned = runtime is None
    runtime = runtime or Runtime(settings or Settings(), clock).start()
    if runtime.settings.engine:
        runtime.start_engine()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if owned and runtime.settings.engine:
            runtime.start_engine()  # (already running at the first start)
        yield
        if owned:
            await run_in_threadpool(runtime.stop_engine)

    app = FastAPI(title="graphsync", version=__version__, lifespan=lifespan,
                  description="Microsoft Graph synchronization API (Entra provisioning service), self-hosted.")
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(dashboard.router)  # first: /dashboard/… must not reach /{tenant}/… or /{version}/…
    metrics.install(app, runtime)  # GET /metrics (Prometheus), before the /{tenant}/… routes too
    app.include_router(emulator.router)
    for root in bulk_upload.ROOTS:
        app.include_router(bulk_upload.build(root))
    for root in synchronization.ROOTS:
        app.include_router(schema.build(root))
        app.include_router(synchronization.build(root))
    app.include_router(directory.router)
    app.include_router(applications.router)
    app.include_router(audit.router)
    app.include_router(oauth.router)
    app.add_middleware(GraphConventions)
    return app


def factory() -> FastAPI:
    """Entry point for ``uvicorn --factory graphsync.api.app:factory`` (settings from the env)."""
    from graphsync.runtime.runtime import freeze_startup_heap
    app = create_app()
    metrics.configure_logging(app.state.runtime.settings.log_level)  # uvicorn's set-up covers its loggers only
    freeze_startup_heap()
    return app
