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

**A lease that is not provably held is lost.** A process can stop for longer than its lease
(SIGSTOP, a VM stall, a long GC pause, a database it cannot reach) and wake up believing it
still runs the job. So:

* ``provably_held`` is a local check, cheap enough for every write: the lease is ours only until
  a safety margin before the expiry of its last successful renewal. The SCIM connector asks it
  before every request that writes (``guard``), so a process that wakes up past its expiry sends
  nothing more to the target.
* A renewal that fails (the database unreachable after a few quick tries) loses the lease: the
  work stops, and the job is claimed again, here or elsewhere, once the database answers.
* Writes to the database are **fenced**: each claim increments the lease's ``generation``, and a
  holder's write transactions first check (and on PostgreSQL lock) that the lease row still has
  its holder and generation, so a late write of a former holder is refused, not committed.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Iterator

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from graphsync.engine.cycle import LeaseLost
from graphsync.store.db import aware
from graphsync.store.engine_tables import job_leases

log = logging.getLogger("graphsync.leases")

PROCESS = f"{socket.gethostname()}:{os.getpid()}"
RENEW_ATTEMPTS = (0.0, 0.1, 0.3)  # delays of a renewal's tries: a dropped connection is replaced at once


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
    """A claimed lease. ``held`` turns False once it is released, found taken over, or can no
    longer be proven ours."""

    def __init__(self, runtime, tenant_id: str, job_id: str, holder: str, seconds: float, generation: int = 1):
        self.runtime = runtime
        self.tenant_id = tenant_id
        self.job_id = job_id
        self.holder = holder
        self.seconds = seconds
        self.generation = generation
        self.held = True
        self._renewed = runtime.clock.now()
        self._expires = self._renewed + timedelta(seconds=seconds)
        # ours for sure until this long before the expiry we wrote: room for the clocks of other
        # machines, and for a write that was allowed just before the bound to reach its target
        self._margin = timedelta(seconds=max(1.0, seconds / 4))
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._stop_heartbeat = threading.Event()

    def __repr__(self) -> str:
        return f"Lease({self.tenant_id}/{self.job_id} by {self.holder} #{self.generation}, held={self.held})"

    def provably_held(self) -> bool:
        """Whether the lease is certainly still ours, without asking the database: held, and
        short of the safety margin before the expiry of its last successful renewal."""
        return self.held and self.runtime.clock.now() < self._expires - self._margin

    def guard(self) -> None:
        """Before a write to the target: raise ``LeaseLost`` unless the lease is provably ours."""
        if not self.provably_held():
            if self.held:
                log.warning("the lease of job %s is not provably held any more (the process was paused or cut off "
                            "past its renewal); stopping its work here", self.job_id)
            raise LeaseLost(f"the lease of job {self.job_id} is no longer provably held")

    def fence(self, connection) -> None:
        """Inside a write transaction: raise ``LeaseLost`` (rolling it back) unless the lease row
        still has this holder and generation. On PostgreSQL the row stays locked to the commit, so
        no other process takes the lease over in between."""
        self.guard()
        query = select(job_leases.c.generation).where(_where(self.tenant_id, self.job_id),
                                                      job_leases.c.holder == self.holder)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        generation = connection.execute(query).scalar()
        if generation != self.generation:
            self._lose("the lease of job %s was taken over by another process; its write is refused")
            raise LeaseLost(f"the lease of job {self.job_id} was taken over")

    def renew(self) -> bool:
        """Push the expiry out; False (and ``held`` False) if the lease is no longer ours, or the
        renewal failed (then it cannot be proven ours). A renewal that succeeds proves the lease
        ours even after its expiry: a takeover would have changed its holder."""
        with self._lock:
            if not self.held:
                return False
            for delay in RENEW_ATTEMPTS:
                time.sleep(delay)
                now = self.runtime.clock.now()  # before the write: the expiry is counted from here
                expires = now + timedelta(seconds=self.seconds)
                try:
                    with self.runtime.db.transaction() as conn:
                        changed = conn.execute(update(job_leases).where(
                            _where(self.tenant_id, self.job_id), job_leases.c.holder == self.holder)
                            .values(expires_at=expires)).rowcount
                except DBAPIError:
                    log.warning("renewing the lease of job %s failed", self.job_id, exc_info=True)
                    continue
                if changed != 1:
                    self._lose("the lease of job %s was taken over by another process; stopping its work here")
                else:
                    self._renewed, self._expires = now, expires
                return self.held
            self._lose("the lease of job %s could not be renewed (the database did not answer); stopping its work "
                       "here")
            return False

    def check(self) -> bool:
        """At a page or batch boundary: still ours? Renews when the last renewal is a while ago
        (a sixth of the lifetime), so the boundaries of fast pages cost no write each."""
        if not self.held:
            return False
        if self.provably_held() and self.runtime.clock.now() - self._renewed < timedelta(seconds=self.seconds / 6):
            return True
        return self.renew()

    def _lose(self, message: str) -> None:
        if self.held:
            self.held = False
            log.warning(message, self.job_id)

    def release(self) -> None:
        """Give the lease up. The row is deleted even when the lease was found lost here: if it is
        still ours (a renewal failed but nobody took over), the job is free at once instead of at
        its expiry; if it is another holder's, the delete changes nothing."""
        self._stop_keep_alive()
        with self._lock:
            self.held = False
            for delay in RENEW_ATTEMPTS:
                time.sleep(delay)
                try:
                    with self.runtime.db.transaction() as conn:
                        conn.execute(delete(job_leases).where(_where(self.tenant_id, self.job_id),
                                                              job_leases.c.holder == self.holder))
                    return
                except DBAPIError:
                    continue
            log.warning("releasing the lease of job %s failed; it expires on its own", self.job_id)

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
                self._lose("the lease of job %s could not be renewed; stopping its work here")
                return

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
        generation = conn.execute(update(job_leases).where(_where(tenant_id, job_id), job_leases.c.expires_at <= now)
                                  .values(**values, generation=job_leases.c.generation + 1)
                                  .returning(job_leases.c.generation)).scalar()
        if generation is None:  # (RETURNING: the rowcount of INSERT … ON CONFLICT is -1 through psycopg)
            generation = conn.execute(_insert_if_absent(conn.dialect.name, {
                "tenant_id": tenant_id, "job_id": job_id, "generation": 1, **values})
                .returning(job_leases.c.generation)).scalar()
    if generation is None:
        return None
    return Lease(runtime, tenant_id, job_id, holder, seconds, generation)


def holder_of(runtime, tenant_id: str, job_id: str) -> str | None:
    """Who holds the job's lease now (an unexpired one), for operators and tests."""
    held = _unexpired(runtime, tenant_id, job_id)
    return held[0] if held else None


def expires_at(runtime, tenant_id: str, job_id: str) -> datetime | None:
    """When the job's lease expires unless renewed (None: nobody holds it)."""
    held = _unexpired(runtime, tenant_id, job_id)
    return held[1] if held else None


def _unexpired(runtime, tenant_id: str, job_id: str) -> tuple[str, datetime] | None:
    with runtime.db.reading() as conn:
        row = conn.execute(select(job_leases.c.holder, job_leases.c.expires_at).where(
            _where(tenant_id, job_id))).first()
    if row is None or aware(row.expires_at) <= runtime.clock.now():
        return None
    return row.holder, aware(row.expires_at)


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
