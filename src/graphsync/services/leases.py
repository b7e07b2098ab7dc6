"""Job leases: at most one process at a time runs a job's outbound cycle or applies its inbound
records, however many ``graphsync serve`` / ``graphsync worker`` processes share the database.

A lease is a ``job_leases`` row (tenant, job, holder, expires_at). Every step is one statement
in its own short transaction, so it behaves the same on SQLite and PostgreSQL without advisory
locks:

* **claim**: ``UPDATE … SET holder = me WHERE job AND expires_at <= now`` (take over an expired
  lease), else ``INSERT … ON CONFLICT DO NOTHING`` (a job nobody holds). Of two claimants racing,
  the database lets one statement change the row; the other's changes none (PostgreSQL
  re-evaluates the WHERE of a blocked UPDATE against the winner's row; SQLite has one writer), so
  it is refused and skips the job this tick.
* **renew**: ``UPDATE … SET expires_at WHERE job AND holder = me``. No row changed means the lease
  expired and someone else took it: the work stops within its current page or at its next batch.
* **release**: ``DELETE … WHERE job AND holder = me``.

While work runs, a heartbeat thread renews the lease every third of its lifetime (so phases
without page boundaries, such as listing a large target, keep it), and the work renews it at
every page or batch. A process that dies stops renewing: its jobs are taken over once their
leases expire (``GRAPHSYNC_LEASE_SECONDS``, default 60). Expiry is decided with the runtime's
clock. Holder ids are unique per claim (host:pid:random), so a claim is never re-entrant.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from sqlalchemy import and_, delete, insert, select, update

from graphsync.store.engine_tables import job_leases

log = logging.getLogger("graphsync.leases")

PROCESS = f"{socket.gethostname()}:{os.getpid()}"


def _where(tenant_id: str, job_id: str):
    return and_(job_leases.c.tenant_id == tenant_id, job_leases.c.job_id == job_id)


def _insert_if_absent(dialect: str, values: dict):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - graphsync supports SQLite and PostgreSQL
        return insert(job_leases).values(**values)
    return dialect_insert(job_leases).values(**values).on_conflict_do_nothing(
        index_elements=[job_leases.c.tenant_id, job_leases.c.job_id])


class Lease:
    """A claimed lease. ``held`` turns False once it is released or found taken over."""

    def __init__(self, runtime, tenant_id: str, job_id: str, holder: str, seconds: float):
        self.runtime = runtime
        self.tenant_id = tenant_id
        self.job_id = job_id
        self.holder = holder
        self.seconds = seconds
        self.held = True
        self._renewed = runtime.clock.now()
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._stop_heartbeat = threading.Event()

    def __repr__(self) -> str:
        return f"Lease({self.tenant_id}/{self.job_id} by {self.holder}, held={self.held})"

    def renew(self) -> bool:
        """Push the expiry out; False (and ``held`` False) if the lease is no longer ours."""
        with self._lock:
            if not self.held:
                return False
            now = self.runtime.clock.now()
            expires = now + timedelta(seconds=self.seconds)
            with self.runtime.db.transaction() as conn:
                changed = conn.execute(update(job_leases).where(
                    _where(self.tenant_id, self.job_id), job_leases.c.holder == self.holder)
                    .values(expires_at=expires)).rowcount
            self._renewed = now
            if changed != 1:
                self.held = False
                log.warning("the lease of job %s was taken over by another process; stopping its work here",
                            self.job_id)
            return self.held

    def check(self) -> bool:
        """At a page or batch boundary: still ours? Renews when the last renewal is a while ago
        (a sixth of the lifetime), so the boundaries of fast pages cost no write each."""
        if not self.held:
            return False
        if self.runtime.clock.now() - self._renewed < timedelta(seconds=self.seconds / 6):
            return True
        try:
            return self.renew()
        except Exception:  # the database is unreachable for a moment: the heartbeat tries again
            log.exception("renewing the lease of job %s failed", self.job_id)
            return self.held

    def release(self) -> None:
        self._stop_keep_alive()
        with self._lock:
            if not self.held:
                return
            self.held = False
            try:
                with self.runtime.db.transaction() as conn:
                    conn.execute(delete(job_leases).where(_where(self.tenant_id, self.job_id),
                                                          job_leases.c.holder == self.holder))
            except Exception:  # it expires on its own
                log.exception("releasing the lease of job %s failed", self.job_id)

    # -- heartbeat ---------------------------------------------------------------------------
    def keep_alive(self) -> Lease:
        """Renew in a background thread every third of the lifetime until released."""
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name=f"graphsync-lease-{self.job_id[:40]}",
                                               daemon=True)
            self._heartbeat.start()
        return self

    def _beat(self) -> None:
        while not self._stop_heartbeat.wait(self.seconds / 3):
            try:
                if not self.renew():
                    return
            except Exception:
                log.exception("renewing the lease of job %s failed", self.job_id)

    def _stop_keep_alive(self) -> None:
        self._stop_heartbeat.set()
        thread = self._heartbeat
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(5.0, self.seconds))


def claim(runtime, tenant_id: str, job_id: str, seconds: float | None = None) -> Lease | None:
    """The job's lease, or None when another holder's lease has not expired."""
    seconds = float(seconds if seconds is not None else runtime.settings.lease_seconds)
    holder = f"{PROCESS}:{uuid.uuid4().hex[:12]}"
    now = runtime.clock.now()
    values = {"holder": holder, "acquired_at": now, "expires_at": now + timedelta(seconds=seconds)}
    with runtime.db.transaction() as conn:
        taken = conn.execute(update(job_leases).where(_where(tenant_id, job_id), job_leases.c.expires_at <= now)
                             .values(**values)).rowcount
        if taken != 1:  # (RETURNING: the rowcount of INSERT … ON CONFLICT is -1 through psycopg)
            inserted = conn.execute(_insert_if_absent(conn.dialect.name, {
                "tenant_id": tenant_id, "job_id": job_id, **values}).returning(job_leases.c.holder)).first()
            taken = 1 if inserted is not None else 0
    if taken != 1:
        return None
    return Lease(runtime, tenant_id, job_id, holder, seconds)


def holder_of(runtime, tenant_id: str, job_id: str) -> str | None:
    """Who holds the job's lease now (an unexpired one), for operators and tests."""
    with runtime.db.transaction() as conn:
        row = conn.execute(select(job_leases.c.holder, job_leases.c.expires_at).where(
            _where(tenant_id, job_id))).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=runtime.clock.now().tzinfo)
    return row.holder if expires > runtime.clock.now() else None


@contextmanager
def held(runtime, tenant_id: str, job_id: str) -> Iterator[Lease | None]:
    """The job's lease, kept alive by a heartbeat while the block runs and released after it;
    None (the block should skip the job) when another process holds it."""
    lease = claim(runtime, tenant_id, job_id)
    if lease is None:
        yield None
        return
    lease.keep_alive()
    try:
        yield lease
    finally:
        lease.release()
