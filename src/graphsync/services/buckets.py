"""Large initial cycles shared by several workers (PostgreSQL's task engine, runtime/tasks.py).

An initial cycle over at least two buckets' worth of users (job setting ``CycleBucketSize``,
default 2,000 users; 0 = never split) is cut into ranges of user ids: **buckets**. Planning them
(under the job's lease) applies restart's resets, takes the cycle's watermark, writes a
``cycle_buckets`` row per range and ``bucketedCycle`` into the job's state. Each bucket then runs
as a task of its own, under a lease of its own (``<job>#b<n>``, fencing its writes), wherever a
worker is free: it lists the target, and creates, matches or updates its users, exactly as a
whole cycle does for them. When the last bucket is through, the job's next look runs the cycle's
**finish** (services/provisioning.py ``run_cycle``): groups, escrow retries, deletes and the
reference pass over every linked object, then one record of the whole cycle with the buckets'
counts. Progress while buckets run is their sum.

A bucket that fails (rejected credentials, a target down) ends the cycle with its error at the
finish; a paused job's buckets stop within their page and run on when it is started again; a
restart abandons the bucketed cycle (the next one starts over, and buckets of the old one write
nothing more of their own: their rows are gone).
"""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import httpx
from sqlalchemy import delete, func, insert, select, update

from graphsync.engine.cycle import CycleInterrupted, CycleResult
from graphsync.models import format_datetime
from graphsync.services import due, leases, provisioning
from graphsync.services.provisioning import JobRef
from graphsync.store.engine_tables import cycle_buckets
from graphsync.store.tables import sync_jobs

SETTING_BUCKET_SIZE = "CycleBucketSize"  # job setting: users per bucket of an initial cycle (0 = never split)
DEFAULT_BUCKET_SIZE = 1000
MAX_BUCKETS = 64
TODO, DONE, FAILED = "todo", "done", "failed"


def _where(ref: JobRef):
    return (cycle_buckets.c.tenant_id == ref.tenant_id) & (cycle_buckets.c.job_id == ref.job_id)


def lease_key(job_id: str, bucket: int) -> str:
    return f"{job_id}#b{bucket}"


def plan(runtime, ref: JobRef, lease: leases.Lease) -> list[int]:
    """Cut the job's pending initial cycle into buckets, if it is large enough to share; the
    bucket numbers (empty: run it as one cycle). Called under the job's lease."""
    prepared = provisioning.prepare(runtime, ref, lease)
    if prepared is None:
        return []
    state = prepared.state
    initial = bool(state.get("initialCyclePending", True)) or "watermark" not in state
    size = int(provisioning._setting(prepared.doc, SETTING_BUCKET_SIZE, str(DEFAULT_BUCKET_SIZE)))
    if not initial or size <= 0 or state.get("bucketedCycle") or \
            provisioning.delete_threshold(prepared.doc, prepared.secrets) is not None:
        return []
    users = prepared.source.count("user")
    if users < 2 * size:
        return []
    every = max(size, -(-users // MAX_BUCKETS))
    cuts = prepared.source.user_boundaries(every)
    if cuts and users % every == 0:
        cuts = cuts[:-1]  # the last cut would leave an empty range behind it
    ranges = list(zip([None, *cuts], [*cuts, None]))
    provisioning.apply_resets(state, prepared.store)
    cycle = {"id": str(uuid.uuid4()), "watermark": prepared.source.latest_seq(),
             "began": format_datetime(runtime.clock.now()), "buckets": len(ranges),
             "targetWasEmpty": _target_is_empty(runtime, prepared, lease)}
    with prepared.store.transaction() as ctx:  # fenced by the job's lease
        row = ctx.conn.execute(select(sync_jobs).where(*_job(ref)).with_for_update()).first()
        if row is None:
            return []
        new_state = dict(row.state or {})
        new_state["bucketedCycle"] = cycle
        new_state["resets"] = [flag for flag in new_state.get("resets") or [] if flag == "ForceDeletes"]
        ctx.conn.execute(update(sync_jobs).where(*_job(ref)).values(
            state=new_state, due_at=due.due_at(row.template_id, row.doc, new_state)))
        ctx.conn.execute(delete(cycle_buckets).where(_where(ref)))
        ctx.conn.execute(insert(cycle_buckets), [
            {"tenant_id": ref.tenant_id, "job_id": ref.job_id, "bucket": n, "cycle_id": cycle["id"],
             "after_id": after, "upto_id": upto, "status": TODO,
             "total": every if n < len(ranges) - 1 else users - every * (len(ranges) - 1)}
            for n, (after, upto) in enumerate(ranges)])
    return list(range(len(ranges)))


def _target_is_empty(runtime, prepared, lease) -> bool:
    """Whether the target has no users now (then buckets need not list it: see Cycle.run_bucket)."""
    async def count() -> int | None:
        async with prepared.target(None, lease=lease) as target:
            return await target.count("Users")
    try:
        return asyncio.run(count()) == 0
    except Exception:  # unreachable, or no count: the buckets list the target as usual
        return False


def unfinished(runtime, ref: JobRef) -> list[int] | None:
    """The buckets of the job's bucketed cycle still to run; None when it has none under way."""
    with runtime.db.reading() as conn:
        state = conn.execute(select(sync_jobs.c.state).where(*_job(ref))).scalar()
        cycle = (state or {}).get("bucketedCycle")
        if not cycle:
            return None
        return list(conn.execute(select(cycle_buckets.c.bucket).where(
            _where(ref), cycle_buckets.c.cycle_id == cycle["id"], cycle_buckets.c.status == TODO)
            .order_by(cycle_buckets.c.bucket)).scalars())


def run(runtime, ref: JobRef, bucket: int, should_stop: Callable[[], bool] = lambda: False, *,
        transport: httpx.AsyncBaseTransport | None = None) -> bool | None:
    """Run one bucket under its own lease. True when it was the last to get through (the cycle
    can be finished), False when buckets are left (or it is not this cycle's any more), None
    when another process holds the bucket."""
    with leases.held(runtime, ref.tenant_id, lease_key(ref.job_id, bucket)) as lease:
        if lease is None:
            return None
        with runtime.db.reading() as conn:
            row = conn.execute(select(cycle_buckets).where(_where(ref), cycle_buckets.c.bucket == bucket)).first()
            state = conn.execute(select(sync_jobs.c.state).where(*_job(ref))).scalar() or {}
        cycle = state.get("bucketedCycle") or {}
        if row is None or row.status != TODO or row.cycle_id != cycle.get("id"):
            return False
        prepared = provisioning.prepare(runtime, ref, lease)
        if prepared is None:
            return False
        with prepared.store.transaction() as ctx:  # fenced: a run begun is counted before it writes anywhere
            ctx.conn.execute(update(cycle_buckets).where(_where(ref), cycle_buckets.c.bucket == bucket)
                             .values(attempts=cycle_buckets.c.attempts + 1))
        first_run = row.attempts == 0
        error = None
        result = CycleResult(row.cycle_id, True, cycle["watermark"], runtime.clock.now())
        prepared.on_progress = lambda done, _total: _progress(prepared.store, ref, bucket, done)
        try:
            result = provisioning.drive(runtime, prepared, transport, lease, should_stop, lambda c: c.run_bucket(
                row.after_id, row.upto_id, cycle_id=row.cycle_id, watermark=cycle["watermark"], total=row.total,
                target_was_empty=first_run and bool(cycle.get("targetWasEmpty"))))
        except CycleInterrupted:
            return False  # paused (it runs on when started again), or the lease was lost (its holder goes on)
        except Exception as exc:
            error, _ = provisioning.failure(exc, ref)
        with prepared.store.transaction() as ctx:  # fenced by the bucket's lease
            ctx.conn.execute(update(cycle_buckets).where(
                _where(ref), cycle_buckets.c.bucket == bucket, cycle_buckets.c.cycle_id == row.cycle_id).values(
                status=FAILED if error else DONE, imported=result.imported, exported=result.exported,
                escrowed=result.escrowed, error=error))
            left = ctx.conn.execute(select(func.count()).select_from(cycle_buckets).where(
                _where(ref), cycle_buckets.c.cycle_id == row.cycle_id, cycle_buckets.c.status == TODO)).scalar_one()
        return left == 0


@dataclass
class Finishing:
    """A bucketed initial cycle whose buckets are all through: what its finish needs."""

    cycle_id: str
    watermark: int
    began: datetime
    imported: int
    exported: int
    escrowed: int
    error: dict[str, Any] | None
    quarantine_reason: str | None

    def add_to(self, result: CycleResult) -> None:
        result.imported += self.imported
        result.exported += self.exported
        result.escrowed += self.escrowed


def finishing(runtime, ref: JobRef, state: dict[str, Any]) -> Finishing | None:
    """The job's bucketed cycle, when every bucket is through; else None (no bucketed cycle, or
    one whose buckets are left: a cycle run now runs over it as one)."""
    cycle = state.get("bucketedCycle")
    if not cycle:
        return None
    with runtime.db.reading() as conn:
        rows = conn.execute(select(cycle_buckets).where(_where(ref), cycle_buckets.c.cycle_id == cycle["id"])
                            .order_by(cycle_buckets.c.bucket)).all()
    if not rows or any(r.status == TODO for r in rows):
        return None
    failed = next((r.error for r in rows if r.status == FAILED), None)
    return Finishing(cycle["id"], int(cycle["watermark"]), datetime.fromisoformat(cycle["began"].replace("Z", "+00:00")),
                     sum(r.imported for r in rows), sum(r.exported for r in rows), sum(r.escrowed for r in rows),
                     failed, "EncounteredQuarantineException" if (failed or {}).get("code") == "CredentialsRejected"
                     else None)


def _progress(store, ref: JobRef, bucket: int, done: int) -> None:
    """A bucket's progress; the job's is their sum, added up when the job is read (services/jobs.py)."""
    with store.transaction() as ctx:  # fenced by the bucket's lease
        ctx.conn.execute(update(cycle_buckets).where(_where(ref), cycle_buckets.c.bucket == bucket)
                         .values(imported=done))


def _job(ref: JobRef):
    return (sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id, sync_jobs.c.id == ref.job_id)
