"""The process-wide parts, wired once: settings, database, cipher, clock, token service."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from graphsync.clock import Clock, SystemClock
from graphsync.config import Settings
from graphsync.connectors.target_policy import TargetPolicy
from graphsync.crypto import Cipher, load_key
from graphsync.runtime.doorbell import Doorbell
from graphsync.services import tenants
from graphsync.services.context import Context
from graphsync.services.tokens import KeyRing, TokenService
from graphsync.store.db import Database


class Runtime:
    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = Database(settings.resolved_database_url)
        self.cipher = Cipher(load_key(settings.secret_key, settings.data_dir, ephemeral=settings.in_memory))
        self.tokens: TokenService | None = None
        self.scheduler = None  # the engine, when this process runs one (Scheduler or TaskEngine)
        self.task_queue = None  # where PostgreSQL's engine tasks are deferred (runtime/tasks.py)
        if self.db.dialect == "postgresql" and settings.engine_executor != "poll":
            from graphsync.runtime.tasks import TaskQueue
            self.task_queue = TaskQueue(settings.resolved_database_url)
        self.target_policy = TargetPolicy.from_settings(settings)  # where SCIM targets may be
        # how processes sharing a SQLite file wake each other's engine (PostgreSQL: NOTIFY)
        self.doorbell = Doorbell.beside(self.db.file) if self.task_queue is None else None

    def start(self) -> Runtime:
        """Migrate, make sure the default tenant and its admin client exist, load the signing key."""
        self.db.migrate()
        with self.db.transaction() as conn:
            self.db.serialise_startup(conn)  # another process may be starting on the same database
            keys = KeyRing.load_or_create(conn, self.cipher, self.clock.now())
            if self.task_queue is not None:
                from graphsync.runtime.tasks import ensure_schema
                ensure_schema(conn)
            if tenants.get_tenant(conn, self.settings.default_tenant_id) is None:
                tenants.create_tenant(conn, self.clock.now(), "Default tenant", self.settings.default_tenant_domain,
                                      tenant_id=self.settings.default_tenant_id)
        self.tokens = TokenService(keys, self.settings.base_url, self.settings.token_audience,
                                   timedelta(seconds=self.settings.token_lifetime_seconds),
                                   self.settings.oidc_issuer, self.settings.oidc_audience,
                                   self.settings.oidc_jwks_url)
        return self

    @contextmanager
    def unit(self, tenant_id: str, *, read_only: bool = False) -> Iterator[Context]:
        """One transaction in one tenant: what every service call runs in. ``read_only`` units
        (GET requests, the engine's reads of the directory) run beside writers (Database.reading)."""
        with (self.db.reading() if read_only else self.db.transaction()) as conn:
            yield Context(conn, tenant_id, self.clock, self.cipher, self.settings)

    def new_tenant_with_admin(self, display_name: str) -> dict:
        """A fresh, empty tenant and an all-permissions client with a token (tests, emulator use)."""
        with self.db.transaction() as conn:
            tenant = tenants.create_tenant(conn, self.clock.now(), display_name)
            client, secret = tenants.create_client(conn, self.clock.now(), tenant.id, f"{display_name} admin",
                                                   tenants.ADMIN_ROLES)
        token = self.tokens.issue(tenant.id, client.client_id, client.roles, self.clock.now(), client.display_name)
        return {"tenantId": tenant.id, "defaultDomain": tenant.default_domain, "clientId": client.client_id,
                "clientSecret": secret, "roles": list(client.roles), "accessToken": token,
                "tokenEndpoint": f"{self.settings.base_url}/{tenant.id}/oauth2/v2.0/token"}

    def load_engine(self) -> None:
        """Import the engine's code (with the provisioning code, a few hundred milliseconds) and
        build the TLS context its connections share: a worker does so before it says it runs, so
        its first job waits for neither."""
        from graphsync.connectors.wire import tls_context
        tls_context()
        if self.task_queue is not None:
            import graphsync.runtime.tasks  # noqa: F401
        else:
            import graphsync.runtime.scheduler  # noqa: F401

    def start_engine(self) -> None:
        if self.scheduler is not None:
            return
        self.load_engine()
        if self.task_queue is not None:
            from graphsync.runtime.tasks import TaskEngine
            self.scheduler = TaskEngine(self, self.settings.engine_concurrency).start()
        else:
            from graphsync.runtime.scheduler import Scheduler
            self.scheduler = Scheduler(self, self.settings.engine_poll_seconds).start()
            if self.doorbell is not None:
                self.doorbell.listen(self.scheduler.wake)

    def wake_engine(self, tenant_id: str | None = None, owner_id: str | None = None, job_id: str | None = None) -> None:
        """Something changed that the engine should see now (start, restart, records staged):
        on PostgreSQL a task for the job (whichever process takes it), else this process's
        scheduler looks for due jobs at once, and so do the other processes' on the same SQLite
        file (the doorbell). Blocking (a database write on PostgreSQL)."""
        if self.task_queue is not None and job_id is not None:
            self.task_queue.wake(tenant_id, owner_id, job_id)
            return
        if self.scheduler is not None:
            self.scheduler.wake()
        if self.doorbell is not None:
            self.doorbell.ring()

    def stop_engine(self) -> None:
        """Stop the engine after its page or batch in flight (its leases released); start_engine
        may start it again."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.doorbell is not None:
            self.doorbell.close()

    def close(self) -> None:
        self.stop_engine()
        if self.task_queue is not None:
            self.task_queue.close()
        self.db.dispose()


def freeze_startup_heap() -> None:
    """For a long-running process (``serve``, ``worker``), once it is set up: its modules, app and
    runtime (~100k objects) live as long as it does, yet every full collection of the cycle
    collector walked them again, ~15 % of an engine-bound cycle. ``gc.freeze`` moves what is alive
    now out of the collector's sight; what is allocated later is collected as before."""
    gc.collect()
    gc.freeze()
