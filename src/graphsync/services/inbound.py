"""API-driven inbound provisioning: staging ``bulkUpload`` records and applying them to the
directory.

Staging: every operation of an accepted request is one ``inbound_records`` row, committed
before the 202 is answered, so nothing accepted is lost if the process dies after answering. A
job's records commit in seq order (SQLite has one writer; on PostgreSQL the stagers of a job take
turns), so "applied up to seq N" (the job's ``applied_seq``) says which records are done.

Processing (the scheduler calls ``process_due``): records of an *active* job (started, not
paused — a paused or never-started job keeps its records staged, as Entra's does) are applied
in receipt order, a batch per transaction. The transaction locks the job row (so two processes
never apply the same records), takes the tenant's directory writer lock, writes the users
through the directory service (which records every change in the change feed), the links,
the pending manager references and the provisioning log entries, marks the failed records and
moves the job's ``applied_seq`` past the batch. A crash anywhere rolls the whole batch back: it
is applied again, entirely, later.

Per record: the job's schema gives the matching attribute (``externalId`` ↔ ``employeeId`` by
default); a record already linked to a user updates it; otherwise it is matched in the directory
and then linked, or a user is created. ``active`` drives ``accountEnabled``. A record that fails
(mapping, a missing required property, a taken userPrincipalName…) is logged as a failure and
the others go on. Managers (``…:enterprise:2.0:User:manager.value`` = the manager's externalId)
resolve through the job's links, after the batch's users are written; one that is not known yet
stays pending and is set when that worker's record arrives (a separate ``update`` log entry).

Job status: a run over a job's backlog is one "cycle"; its counters are kept in the job's
``state`` while it runs and become ``status.lastExecution`` when the backlog is empty.
"""
from __future__ import annotations

import copy
import gc
import json
import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator

from sqlalchemy import and_, bindparam, delete, exists, func, insert, literal_column, or_, select, text, update

from graphsync import expressions, metrics
from graphsync.engine import inbound as engine
from graphsync.engine.cycle import LeaseLost
from graphsync.errors import BadRequest, GraphError, not_found
from graphsync.models import NEVER, format_datetime
from graphsync.services import applications, audit, directory, due, leases, synchronization
from graphsync.services.context import Context
from graphsync.services.synchronization import Owner
from graphsync.services.tenants import get_tenant
from graphsync.store.db import among, is_transient
from graphsync.store.engine_tables import provisioning_logs
from graphsync.store.inbound_tables import inbound_links, inbound_records, inbound_references
from graphsync.store.tables import directory_users, sync_jobs

log = logging.getLogger("graphsync.inbound")

# Records per transaction. A batch holds the tenant's directory writer lock (and, on SQLite, the
# database) while it runs: about 0.15 ms a record, so ~0.15 s; larger batches spread what each
# transaction costs anyway (the job row, the plan, the commit) over more records.
BATCH_SIZE = 1000
RECEIVED, FAILED = "received", "failed"  # inbound_records.status ('done': applied before migration 0009)
MAX_ATTEMPTS = 3  # a record whose processing keeps failing unexpectedly is given up after this many tries
# A job whose processing fails past what isolating its records handles (not even a record's
# failure could be saved) is skipped by process_due for a while: 2 s, then twice as long after
# each failure in a row, at most 5 minutes. In memory: what failed may be the database.
JOB_BACKOFF_FIRST_SECONDS, JOB_BACKOFF_MAX_SECONDS = 2.0, 300.0
_job_backoff: dict[tuple[int, str, str], tuple[int, float]] = {}  # → (failures in a row, skipped until)
_turns: dict[int, int] = {}  # runtime → calls of process_due so far (whose turn comes first)
RATE_LIMITER = engine.RateLimiter()
PURGE_EVERY = timedelta(minutes=10)
_last_purge: dict[int, float] = {}


@dataclass(frozen=True)
class JobRef:
    tenant_id: str
    owner_id: str
    job_id: str


# ------------------------------------------------------------------------------------------------
# Staging (the bulkUpload route)

def stage(ctx: Context, owner: Owner, job_id: str, operations: list[engine.Operation]) -> int:
    """Stage the records of one accepted bulk request; 404 unknown job, 400 not an inbound job or
    too many operations, 429 over the job's request rate."""
    row = ctx.conn.execute(select(sync_jobs.c.template_id, sync_jobs.c.doc).where(
        sync_jobs.c.tenant_id == ctx.tenant_id, sync_jobs.c.owner_id == owner.id,
        sync_jobs.c.id == job_id)).first()
    if row is None:
        raise not_found("synchronizationJob", job_id)
    if not due.is_inbound(row.template_id):
        raise BadRequest(f"The job '{job_id}' is not an API-driven inbound provisioning job (template "
                         f"'{row.template_id}'); bulkUpload accepts records only for jobs of the API2AAD template.",
                         code="InvalidJobType")
    RATE_LIMITER.check(f"{ctx.tenant_id}/{job_id}", engine.setting(row.doc, engine.SETTING_REQUESTS_PER_SECOND,
                                                                  engine.DEFAULT_REQUESTS_PER_SECOND))
    limit = engine.setting(row.doc, engine.SETTING_MAX_OPERATIONS, engine.DEFAULT_MAX_OPERATIONS)
    if limit and len(operations) > limit:
        raise BadRequest(f"A bulk request may carry at most {limit} operations; this one has {len(operations)}. "
                         f"Split the records into several requests (for self-hosted use the job setting "
                         f"'{engine.SETTING_MAX_OPERATIONS}' raises or, with 0, lifts the limit).",
                         code="TooManyOperations")
    now = ctx.now()
    _serialise_stagers(ctx, job_id)
    directory.insert_rows(ctx, inbound_records, ("tenant_id", "job_id", "received_at", "bulk_id", "data", "status",
                                                 "attempts"),
                          [(ctx.tenant_id, job_id, now, op.bulk_id, op.data, RECEIVED, 0) for op in operations])
    return len(operations)


def _serialise_stagers(ctx: Context, job_id: str) -> None:
    """PostgreSQL: the job's stagers take turns from taking their seqs to committing, so the job's
    records become visible in seq order and none can appear behind its ``applied_seq``. (A
    sequence hands out numbers at insert; concurrent transactions would commit them in any order.)
    SQLite has a single writer already."""
    if ctx.conn.dialect.name == "postgresql":
        ctx.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                         {"key": f"graphsync.inbound:{ctx.tenant_id}/{job_id}"})


def _unapplied(tenant_id: str, job_id: str, applied_seq: int):
    """The condition of a job's records still to apply, oldest first by the index on
    (tenant_id, job_id, status, seq)."""
    return and_(inbound_records.c.tenant_id == tenant_id, inbound_records.c.job_id == job_id,
                inbound_records.c.status == RECEIVED, inbound_records.c.seq > applied_seq)


# ------------------------------------------------------------------------------------------------
# Processing

def inbound_jobs(runtime) -> list[JobRef]:
    """Active inbound jobs that have staged records, or a start/restart to acknowledge or a run to
    finish (``due_at``): both through indexes, never a read of every job."""
    inbound = func.lower(sync_jobs.c.template_id).in_(due.INBOUND_TEMPLATES)
    staged = exists().where(_unapplied(sync_jobs.c.tenant_id, sync_jobs.c.id, sync_jobs.c.applied_seq))
    with runtime.db.reading() as conn:
        rows = conn.execute(select(sync_jobs.c.tenant_id, sync_jobs.c.owner_id, sync_jobs.c.id, sync_jobs.c.doc)
                            .where(inbound, or_(sync_jobs.c.due_at <= runtime.clock.now(), staged))
                            .order_by(sync_jobs.c.tenant_id, sync_jobs.c.id)).all()  # a stable order to take turns in
    return [JobRef(row.tenant_id, row.owner_id, row.id) for row in rows if row.doc["schedule"]["state"] == "Active"]


def process_due(runtime, should_stop: Callable[[], bool] = lambda: False, budget_seconds: float = 2.0) -> bool:
    """Apply staged records of every active inbound job, for about ``budget_seconds`` (so
    outbound cycles get their turn). Returns True when records are left for the next call.

    One job's failure never stops the others, nor the scheduler's tick: it is logged (its id and
    the exception's class; no record data) and the job backs off (JOB_BACKOFF_*)."""
    deadline = time.monotonic() + budget_seconds
    more = False
    jobs = _in_turn(runtime, inbound_jobs(runtime))
    for position, ref in enumerate(jobs):
        if should_stop() or (position and time.monotonic() > deadline):  # the first in turn always has one
            return True
        key = (id(runtime), ref.tenant_id, ref.job_id)
        failures, until = _job_backoff.get(key, (0, 0.0))
        if time.monotonic() < until:
            continue
        # an even share of what is left of the budget, so one tenant's large backlog never holds
        # up another's records for longer than a batch
        share = (deadline - time.monotonic()) / (len(jobs) - position)
        try:
            more = bool(process_leased(runtime, ref, time.monotonic() + share, should_stop)) or more
        except Exception as exc:
            delay = min(JOB_BACKOFF_FIRST_SECONDS * 2 ** failures, JOB_BACKOFF_MAX_SECONDS)
            _job_backoff[key] = (failures + 1, time.monotonic() + delay)
            log.error("inbound job %s of tenant %s failed (%s); its records wait, it is tried again in %.0f s",
                      ref.job_id, ref.tenant_id, exc.__class__.__name__, delay)
            log.debug("inbound job %s failed", ref.job_id, exc_info=True)
        else:
            _job_backoff.pop(key, None)
    maybe_purge(runtime)
    return more


def _in_turn(runtime, jobs: list[JobRef]) -> list[JobRef]:
    """``jobs`` starting one further along at each call of this process (round robin): when the
    budget runs out part way, the jobs it did not reach come first next time."""
    if not jobs:
        return jobs
    turn = _turns.get(id(runtime), 0)
    _turns[id(runtime)] = turn + 1
    start = turn % len(jobs)
    return jobs[start:] + jobs[:start]


def process_leased(runtime, ref: JobRef, deadline: float | None = None,
                   should_stop: Callable[[], bool] = lambda: False) -> bool | None:
    """Apply the job's staged records under its lease (renewed at every batch; its batches fenced
    by it). True when records are left, None when another process holds the job's lease (that
    process is applying them)."""
    with leases.held(runtime, ref.tenant_id, ref.job_id) as lease:
        if lease is None:
            return None
        try:
            return process_job(runtime, ref, deadline, lambda: should_stop() or not lease.check(), fence=lease.fence)
        except LeaseLost:
            log.warning("inbound job %s: its lease was lost; whoever holds it now applies its records", ref.job_id)
            return True


def process_job(runtime, ref: JobRef, deadline: float | None = None,
                should_stop: Callable[[], bool] = lambda: False,
                fence: Callable[[Any], None] | None = None) -> bool:
    """Process the job's staged records until none are left (or the deadline, checked after each
    batch: a turn applies one batch at least); True if some remain. ``fence`` (the job's lease)
    is checked in every batch's transaction: a batch of a process that lost the lease is rolled
    back (``LeaseLost``), never applied twice."""
    _acknowledge(runtime, ref)
    while True:
        if should_stop():
            return True
        try:
            count = _batch(runtime, ref, BATCH_SIZE, fence=fence)
        except LeaseLost:
            raise
        except Exception as exc:
            if is_transient(exc):
                # the database, not a record, failed: the records wait (no attempt is counted against them)
                log.warning("an inbound batch of job %s met a transient database error; trying again soon",
                            ref.job_id)
                return True
            # anything else (a database error too: one record's data can cause it) is isolated
            log.exception("an inbound batch of job %s failed; processing its records one by one", ref.job_id)
            count = _isolate(runtime, ref, fence)
        runtime.db.grew(count)
        if count == 0:
            return False
        if deadline is not None and time.monotonic() > deadline:
            return True


def _acknowledge(runtime, ref: JobRef) -> None:
    """Consume what start/restart asked for: restart's ConnectorDataStore scope forgets the job's
    links and pending manager references (accepted records are never purged)."""
    with runtime.unit(ref.tenant_id) as ctx:
        row = _lock_job(ctx, ref)
        if row is None:
            return
        state = dict(row.state or {})
        if not state.get("runRequested") and not state.get("resets"):
            return
        resets = set(state.get("resets") or [])
        if "ConnectorDataStore" in resets:
            for table in (inbound_links, inbound_references):
                ctx.conn.execute(delete(table).where(table.c.tenant_id == ref.tenant_id, table.c.job_id == ref.job_id))
        state["resets"] = []
        state["runRequested"] = False
        state["initialCyclePending"] = False
        ctx.conn.execute(update(sync_jobs).where(_job_where(ref)).values(
            state=state, due_at=due.due_at(row.template_id, row.doc, state)))


def _job_where(ref: JobRef):
    return and_(sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
                sync_jobs.c.id == ref.job_id)


def _lock_job(ctx: Context, ref: JobRef):
    return ctx.conn.execute(select(sync_jobs).where(_job_where(ref)).with_for_update()).first()


@dataclass(slots=True)  # a batch makes a thousand: smaller, and freed faster
class _Record:
    seq: int
    bulk_id: str
    data: dict
    attempts: int
    external_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    decision: engine.Decision | None = None
    user_id: str | None = None
    before: dict | None = None  # the user before this record (None: created, or unmatched)
    after_name: str | None = None
    manager_id: str | None = None  # the manager set when the user was created
    steps: list[list] = field(default_factory=list)
    modified: list[tuple[str, Any, Any]] = field(default_factory=list)
    status: str = "success"
    action: str = "other"
    error: tuple[str, str] | None = None  # (code, reason)


@dataclass
class _Run:
    plan: engine.InboundPlan
    log: engine.LogContext
    context: expressions.EvaluationContext
    skip_out_of_scope: bool
    now: str


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """A batch makes a few hundred thousand objects that live until it ends and are freed by
    reference counting (they form no cycles). Meanwhile the cycle collector would walk the whole
    heap over and over for them: about a sixth of the processing time. Paused for the batch;
    cycles made meanwhile (by this thread or another) are collected once it is back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _batch(runtime, ref: JobRef, limit: int, only_seq: int | None = None,
           fence: Callable[[Any], None] | None = None) -> int:
    """Apply up to ``limit`` staged records of the job in one transaction; returns how many."""
    with _cycle_collection_paused(), metrics.after_commit():  # counts once committed
        return _batch_transaction(runtime, ref, limit, only_seq, fence)


def _batch_transaction(runtime, ref: JobRef, limit: int, only_seq: int | None,
                       fence: Callable[[Any], None] | None) -> int:
    with runtime.unit(ref.tenant_id) as ctx:
        if fence is not None:
            fence(ctx.conn)
        row = _lock_job(ctx, ref)
        if row is None or row.doc["schedule"]["state"] != "Active":
            return 0
        query = select(inbound_records.c.seq, inbound_records.c.bulk_id, inbound_records.c.data,
                       inbound_records.c.attempts).where(_unapplied(ref.tenant_id, ref.job_id, row.applied_seq))
        if only_seq is not None:
            query = query.where(inbound_records.c.seq == only_seq)
        rows = ctx.conn.execute(query.order_by(inbound_records.c.seq).limit(limit)).all()
        state = dict(row.state or {})
        if not rows:
            if state.get("inboundCycle") and only_seq is None:
                _finish_cycle(ctx, ref, row, state)
            return 0
        directory._serialise_writers(ctx)  # the tenant's writer lock before any read we act on
        cycle = state.get("inboundCycle") or _new_cycle(ctx)
        run = _prepare(ctx, ref, row, cycle["id"])
        records = [_Record(r.seq, r.bulk_id, r.data, r.attempts) for r in rows]
        _apply(ctx, run, ref, records)
        _save(ctx, run, ref, records)
        staged = [r for r in records if r.seq]  # the manager updates of earlier workers are no records
        cycle["imported"] += len(staged)
        cycle["exported"] += sum(1 for r in records if r.status == "success" and r.action != "other")
        cycle["failed"] += sum(1 for r in staged if r.status == "failure")
        state["inboundCycle"] = cycle
        doc = copy.deepcopy(row.doc)
        doc["status"]["progress"] = [{"completedUnits": cycle["imported"], "totalUnits": cycle["imported"],
                                      "units": "records", "progressObservationDateTime": run.now}]
        ctx.conn.execute(update(sync_jobs).where(_job_where(ref)).values(
            doc=doc, state=state, applied_seq=rows[-1].seq, due_at=due.due_at(row.template_id, doc, state)))
        return len(rows)


def _new_cycle(ctx: Context) -> dict:
    return {"id": str(uuid.uuid4()), "began": format_datetime(ctx.now()), "imported": 0, "exported": 0, "failed": 0}


def _prepare(ctx: Context, ref: JobRef, row, cycle_id: str) -> _Run:
    sp = applications.find_service_principal(ctx, ref.owner_id)
    kind = "servicePrincipals" if sp else "applications"
    owner_doc = sp or applications.get_application(ctx, ref.owner_id)
    secrets = synchronization.read_secrets(ctx, synchronization.resolve_owner(ctx, kind, ref.owner_id))
    tenant = get_tenant(ctx.conn, ref.tenant_id)
    plan = _plan(row.schema)
    log_context = engine.LogContext(
        tenant_id=ref.tenant_id, job_id=ref.job_id, cycle_id=cycle_id, service_principal_id=ref.owner_id,
        service_principal_name=owner_doc.get("displayName") or "", application_id=owner_doc.get("appId") or "",
        source_directory=plan.source_directory,
        target_directory=plan.target_directory, source_object=plan.source_object, target_object=plan.target_object)
    context = expressions.EvaluationContext(clock=ctx.clock.now,
                                            default_domain=tenant.default_domain if tenant else None)
    skip = (secrets.get("SkipOutOfScopeDeletions") or "").strip().lower() in ("true", "1")
    return _Run(plan, log_context, context, skip, format_datetime(ctx.now()))


_plans: dict[str, engine.InboundPlan] = {}


def _plan(schema: dict) -> engine.InboundPlan:
    """The job's compiled plan; compiled once per schema, not once per batch."""
    key = json.dumps(schema, sort_keys=True)
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= 32:
            _plans.clear()
        plan = _plans[key] = engine.compile_plan(schema)
    return plan


# -- applying a batch ------------------------------------------------------------------------
#
# Records are applied in receipt order, in "waves": a wave collects records that touch distinct
# workers and users, then its creates and its updates are written together (the directory writes
# of a wave go through directory.create_users (one batch) and _update_users). A record that
# touches what the open wave already touches (the same externalId twice in a batch, say) closes
# the wave first, so it sees the earlier record's result. Managers are set after the batch's
# users exist (directory.set_managers, one batch).

@dataclass
class _Batch:
    """What the records of one batch share while they are applied."""

    links: dict[str, str]  # externalId → user id (this job's links, as of now)
    docs: dict[str, dict]  # user id → document, as read (or created) in this batch
    stale: set[str] = field(default_factory=set)  # users updated since their doc was read
    new_links: dict[str, str] = field(default_factory=dict)
    created: dict[tuple[str, str], str] = field(default_factory=dict)  # (property, lowered value) → user id
    wave: list[_Record] = field(default_factory=list)
    wave_keys: set[Any] = field(default_factory=set)
    ref: JobRef | None = None
    manager_links: dict[str, str] = field(default_factory=dict)  # managers' externalId → user id


def _apply(ctx: Context, run: _Run, ref: JobRef, records: list[_Record]) -> None:
    plan = run.plan
    for record in records:
        record.external_id = engine.anchor_of(record.data)
        record.attributes = engine.source_attributes(plan, record.data)
    links = _links(ctx, ref, [r.external_id for r in records])
    stored_links = set(links)  # rows in inbound_links; a new link for one of these replaces it
    linked_docs = directory.get_users(ctx, list(set(links.values())), include_deleted=True)
    links = {ext: uid for ext, uid in links.items()  # a link to a deleted user is stale: match again
             if uid in linked_docs and not linked_docs[uid].get("deletedDateTime")}
    unlinked = [r for r in records if r.external_id not in links]
    matches, match_keys = _match(ctx, run, unlinked)
    batch = _Batch(links, {uid: linked_docs[uid] for uid in links.values()}, ref=ref)

    for record in records:
        ext = record.external_id
        keys = match_keys.get(record.seq, ())
        if ext in batch.wave_keys or any(k in batch.wave_keys for k in keys):
            _flush(ctx, run, batch)
        user_id = batch.links.get(ext)
        linked = user_id is not None
        if not linked:
            found = matches.get(record.seq)
            if isinstance(found, tuple):  # (code, reason): the match failed
                _fail(record, run, *found, existing=False)
                continue
            user_id = found or next((batch.created[k] for k in keys if k in batch.created), None)
        if user_id is not None and user_id in batch.wave_keys:
            _flush(ctx, run, batch)
        current = _current(ctx, batch, user_id)
        user_id = current["id"] if current else None
        record.before = current
        record.steps.append(engine.import_step(record.attributes, current is not None))
        decision = engine.decide(plan, record.attributes, current, linked, run.context,
                                 skip_out_of_scope_deletions=run.skip_out_of_scope)
        record.decision = decision
        record.steps.append(engine.scoping_step(decision, record.attributes))
        if decision.kind == "fail":
            _fail(record, run, decision.error_code or "Failed", decision.reason, existing=current is not None)
            continue
        if decision.kind == "skip":
            record.steps.append(engine.step("EntrySynchronizationSkip", "matching", "skipped", decision.reason,
                                            {"SkipReason": decision.error_code}))
            record.status, record.action, record.user_id = "skipped", "other", user_id
            if user_id and decision.in_scope and not linked:
                batch.new_links[ext] = batch.links[ext] = user_id
            continue
        record.steps.append(_matching_step(run, current, linked))
        record.user_id = user_id
        batch.wave.append(record)
        batch.wave_keys.add(ext)
        batch.wave_keys.update(keys)
        if user_id:
            batch.wave_keys.add(user_id)
        if not linked and user_id:
            batch.new_links[ext] = batch.links[ext] = user_id
    _flush(ctx, run, batch)

    _references(ctx, run, ref, records, batch.links, batch.manager_links)
    for record in records:
        if record.decision is not None and record.decision.kind in ("create", "update", "disable") \
                and record.status != "failure":
            record.steps.append(_export_step(record))
    _save_links(ctx, ref, batch.new_links, stored_links)


def _current(ctx: Context, batch: _Batch, user_id: str | None) -> dict | None:
    if user_id is None:
        return None
    if user_id in batch.stale or user_id not in batch.docs:
        batch.docs.update(directory.get_users(ctx, [user_id], include_deleted=False))
        batch.stale.discard(user_id)
    return batch.docs.get(user_id)


def _flush(ctx: Context, run: _Run, batch: _Batch) -> None:
    """Write the open wave: its creates, then its updates."""
    wave, batch.wave, batch.wave_keys = batch.wave, [], set()
    creates = [r for r in wave if r.decision.kind == "create"]
    managers = _known_managers(ctx, batch, creates)
    results = directory.create_users(ctx, [r.decision.writes for r in creates], managers)
    for record, manager, result in zip(creates, managers, results):
        if isinstance(result, GraphError):
            _fail(record, run, _error_code(result), result.message, existing=False, export=True)
            continue
        record.manager_id = manager
        record.user_id = result["id"]
        batch.docs[result["id"]] = result
        batch.links[record.external_id] = batch.new_links[record.external_id] = result["id"]
        record.action, record.modified = "create", engine.modified_properties(record.decision, None, None)
        record.after_name = result.get("userPrincipalName")
        for _, prop in run.plan.matching:
            if result.get(prop):
                batch.created[(prop, str(result[prop]).lower())] = result["id"]
    # a record that changes nothing (the same data sent again) costs no directory call
    updates = [r for r in wave if r.decision.kind in ("update", "disable")]
    unchanged = [r for r in updates if not _differs(r.decision.writes, r.before)]
    for record in unchanged:
        record.modified, record.action, record.status = [], "other", "skipped"
        record.after_name = record.before.get("userPrincipalName")
    updates = [r for r in updates if _differs(r.decision.writes, r.before)]
    results = _update_users(ctx, [(r.user_id, r.decision.writes) for r in updates])
    for record, result in zip(updates, results):
        if isinstance(result, GraphError):
            batch.new_links.pop(record.external_id, None)
            _fail(record, run, _error_code(result), result.message, existing=True, export=True)
            continue
        if result:
            batch.stale.add(record.user_id)
        record.modified = engine.modified_properties(record.decision, record.before, result)
        record.action = ("disable" if "accountEnabled" in result and record.decision.writes.get("accountEnabled")
                         is False else "update" if result else "other")
        record.status = "success" if result else "skipped"
        record.after_name = record.decision.writes.get("userPrincipalName") or record.before.get("userPrincipalName")


def _known_managers(ctx: Context, batch: _Batch, creates: list[_Record]) -> list[str | None]:
    """The user ids of the managers the new users name, where the job already linked them (in an
    earlier batch, or earlier in this one): such a user is created with its manager in one write.
    The others (a manager later in this wave, not provisioned yet, or whose user is gone) are left
    to _references."""
    wanted = [r.decision.manager for r in creates]
    unknown = [m for m in wanted if m and m not in batch.links and m not in batch.manager_links]
    if unknown:
        batch.manager_links.update(_links(ctx, batch.ref, unknown))
    ids = [None if not m or m == r.external_id else batch.links.get(m) or batch.manager_links.get(m)
           for m, r in zip(wanted, creates)]
    live = directory.live_user_ids(ctx, [i for i in ids if i])
    return [i if i in live else None for i in ids]


def _differs(writes: dict[str, Any], doc: dict) -> bool:
    return any(doc.get(prop) != value for prop, value in writes.items())


# The directory writes of a batch. One directory call per object: the directory service keeps
# every write's validation, locking and change-feed record in one place.

def _update_users(ctx: Context, updates: list[tuple[str, dict]]) -> list[list[str] | GraphError]:
    results: list[list[str] | GraphError] = []
    for user_id, body in updates:
        try:
            results.append(directory.update_user(ctx, user_id, body))
        except GraphError as exc:
            results.append(exc)
    return results


def _matching_step(run: _Run, current: dict | None, linked: bool) -> list:
    if current is None:
        return engine.matching_step(None, "")
    how = "linked to" if linked else "matched on " + ", ".join(p for _, p in run.plan.matching) + " to"
    return engine.matching_step(current["id"], how)


def _export_step(record: _Record) -> list:
    return engine.export_step(record.action if record.action in ("create", "other") else "update",
                              record.after_name or record.external_id, record.decision.not_stored)


def _fail(record: _Record, run: _Run, code: str, reason: str, *, existing: bool, export: bool = False) -> None:
    if not record.steps:
        record.steps.append(engine.import_step(record.attributes, existing))
    kind = record.decision.action if record.decision else ("update" if existing else "create")
    verb = {"create": "create", "update": "update", "disable": "disable"}.get(kind, "process")
    record.steps.append(engine.step("EntryExportAdd" if kind == "create" and export else "EntryExportUpdate" if export
                                    else "EntrySynchronizationError", "export" if export else "processing",
                                    "failure", f"Failed to {verb} User '{record.external_id}' in "
                                               f"{run.log.target_directory}: {reason}",
                                    {"ReportableIdentifier": record.external_id}))
    record.status, record.action = "failure", kind if kind in ("create", "update", "disable") else "other"
    record.error = (code, reason)


def _error_code(exc: GraphError) -> str:
    message = exc.message.lower()
    if "userprincipalname" in message and "already exists" in message:
        return "AzureActiveDirectoryConflictEncountered"
    if "required" in message:  # before the UPN check: a missing UPN is a missing property
        return "AzureActiveDirectoryRequiredPropertyMissing"
    if "userprincipalname" in message:
        return "AzureActiveDirectoryInvalidUserPrincipalName"
    return "AzureActiveDirectoryInvalidValue"


def _links(ctx: Context, ref: JobRef, external_ids: list[str]) -> dict[str, str]:
    if not external_ids:
        return {}
    rows = ctx.conn.execute(select(inbound_links.c.external_id, inbound_links.c.user_id).where(
        inbound_links.c.tenant_id == ref.tenant_id, inbound_links.c.job_id == ref.job_id,
        among(ctx.conn, inbound_links.c.external_id, list(dict.fromkeys(external_ids)))))
    return {r.external_id: r.user_id for r in rows}


def _save_links(ctx: Context, ref: JobRef, new_links: dict[str, str], stored: set[str]) -> None:
    """Store the batch's new links; those of ``stored`` externalIds (read at the batch's start,
    under the job's lock) replace the old rows."""
    if not new_links:
        return
    replaced = [ext for ext in new_links if ext in stored]
    if replaced:
        ctx.conn.execute(delete(inbound_links).where(
            inbound_links.c.tenant_id == ref.tenant_id, inbound_links.c.job_id == ref.job_id,
            among(ctx.conn, inbound_links.c.external_id, replaced)))
    now = ctx.now()
    directory.insert_rows(ctx, inbound_links, ("tenant_id", "job_id", "external_id", "user_id", "updated_at"),
                          [(ref.tenant_id, ref.job_id, ext, uid, now) for ext, uid in new_links.items()])


def _match_expression(ctx: Context, prop: str):
    """``lower(<the user's prop>)`` spelled as the employeeId index of migration 0004 is."""
    if ctx.conn.dialect.name == "postgresql":
        return func.lower(directory_users.c.doc.op("->>")(literal_column(f"'{prop}'")))
    return func.lower(func.json_extract(directory_users.c.doc, literal_column(f"'$.{prop}'")))


def _match(ctx: Context, run: _Run, records: list[_Record]) -> tuple[dict[int, Any], dict[int, list]]:
    """For unlinked records: seq → the matching user's id, None (no match) or (code, reason); and
    seq → the (property, lowered value) keys it matches on."""
    result: dict[int, Any] = {}
    keys: dict[int, list] = {}
    if run.plan.rule is None or not records:
        return result, keys
    remaining = list(records)
    for attribute, prop in run.plan.matching:
        wanted: dict[int, str] = {}
        for record in remaining:
            try:
                value = engine.match_value(attribute, record.attributes, run.context)
            except expressions.EvaluationError as exc:
                result[record.seq] = ("AttributeMappingEvaluationFailed",
                                      f"The matching attribute {attribute.target} cannot be evaluated: {exc}")
                continue
            if value is not None:
                wanted[record.seq] = value
                keys.setdefault(record.seq, []).append((prop, value.lower()))
        if not wanted:
            continue
        if prop not in directory.USER_FILTER_STRINGS:
            for seq in wanted:
                result[seq] = ("InvalidMatchingAttribute", f"Users cannot be matched on '{prop}'; choose a "
                               "matching attribute the directory can filter on (e.g. employeeId).")
            remaining = [r for r in remaining if r.seq not in result]
            continue
        found: dict[str, list[str]] = {}
        column = _match_expression(ctx, prop)
        for r in ctx.conn.execute(select(directory_users.c.id, column.label("value")).where(
                directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.deleted_at.is_(None),
                among(ctx.conn, column, sorted({v.lower() for v in wanted.values()})))):
            found.setdefault(r.value, []).append(r.id)
        for seq, value in wanted.items():
            hits = found.get(value.lower(), [])
            if len(hits) > 1:
                result[seq] = ("AzureActiveDirectoryMultipleMatchesFound",
                               f"More than one user has {prop} '{value}'; the record cannot be matched.")
            elif hits:
                result[seq] = hits[0]
        remaining = [r for r in remaining if r.seq not in result]
        if not remaining:
            break
    return result, keys


# -- managers --------------------------------------------------------------------------------

def _references(ctx: Context, run: _Run, ref: JobRef, records: list[_Record], links: dict[str, str],
                manager_links: dict[str, str]) -> None:
    """Second pass, once the batch's users exist: set the managers the records name, leave the
    unknown ones pending, and resolve earlier workers that were waiting for this batch's records.
    ``manager_links``: the managers' links _known_managers read already."""
    if run.plan.manager is None:
        return
    waiting = _any_pending(ctx, ref)  # most loads have none: then there is nothing to replace or resolve
    applied = [r for r in records if r.user_id and r.status != "failure" and r.decision is not None
               and r.decision.kind in ("create", "update") and r.decision.manager is not None]
    unknown = [r.decision.manager for r in applied if r.decision.manager not in links]
    links.update({m: manager_links[m] for m in unknown if m in manager_links})
    links.update(_links(ctx, ref, [m for m in unknown if m not in links]))
    current_managers = directory.managers_of(ctx, [r.user_id for r in applied if r.action != "create"])
    settable: list[tuple[_Record, str]] = []
    pending: dict[str, str] = {}
    for record in applied:
        manager_ext = record.decision.manager
        if manager_ext == record.external_id:
            record.steps.append(engine.step("EntrySynchronizationSkip", "referenceResolution", "skipped",
                                            f"'{manager_ext}' names the worker as their own manager; the manager is "
                                            "not set.", {"PropertyName": "manager", "SkipReason": "SelfReference"}))
        elif manager_ext in links:
            if record.manager_id is not None and record.manager_id == links[manager_ext]:
                record.modified.append(("manager", None, record.manager_id))  # set with the create
            elif record.action == "create" or current_managers.get(record.user_id) != links[manager_ext]:
                settable.append((record, links[manager_ext]))
        else:
            pending[record.external_id] = manager_ext
    results = directory.set_managers(ctx, [(record.user_id, manager) for record, manager in settable])
    for (record, manager), result in zip(settable, results):
        if isinstance(result, GraphError):  # the manager's user is gone: wait for its record again
            pending[record.external_id] = record.decision.manager
        elif result:
            record.modified.append(("manager", current_managers.get(record.user_id), manager))
            if record.action == "other":
                record.action, record.status = "update", "success"
    for record in applied:
        if record.external_id in pending:
            manager_ext = pending[record.external_id]
            record.steps.append(engine.step(
                "EntrySynchronizationSkip", "referenceResolution", "skipped",
                f"We were unable to assign {manager_ext} as the manager of {record.after_name or record.external_id}: "
                f"no record with externalId '{manager_ext}' has been provisioned by this job yet. The manager is set "
                "when that record arrives.", {manager_ext: "manager Add", "PropertyName": "manager",
                                              "SkipReason": "UnableToResolveReferenceAttributeValue"}))
    _store_pending(ctx, ref, [r.external_id for r in applied] if waiting else [], pending)
    if waiting:  # a reference stored just now names a manager this batch did not link
        _resolve_waiting(ctx, run, ref, records, links)


def _any_pending(ctx: Context, ref: JobRef) -> bool:
    """Whether any worker of the job waits for its manager's record."""
    return ctx.conn.execute(select(inbound_references.c.external_id).where(
        inbound_references.c.tenant_id == ref.tenant_id, inbound_references.c.job_id == ref.job_id).limit(1)
    ).first() is not None


def _store_pending(ctx: Context, ref: JobRef, workers: list[str], pending: dict[str, str]) -> None:
    """The ``workers``' pending references are replaced by ``pending`` (worker → manager externalId)."""
    _drop_references(ctx, ref, workers)
    if pending:
        now = ctx.now()
        ctx.conn.execute(insert(inbound_references), [
            {"tenant_id": ref.tenant_id, "job_id": ref.job_id, "external_id": worker, "manager_external_id": manager,
             "recorded_at": now} for worker, manager in pending.items()])


def _resolve_waiting(ctx: Context, run: _Run, ref: JobRef, records: list[_Record], links: dict[str, str]) -> None:
    """Workers of earlier batches whose manager is one of this batch's records: set it now, each
    logged as an update of the worker (as Entra logs a resolved reference)."""
    linked_here = list(dict.fromkeys(r.external_id for r in records if r.external_id in links))
    waiting = [(r.external_id, r.manager_external_id) for r in ctx.conn.execute(
        select(inbound_references.c.external_id, inbound_references.c.manager_external_id).where(
            inbound_references.c.tenant_id == ref.tenant_id, inbound_references.c.job_id == ref.job_id,
            among(ctx.conn, inbound_references.c.manager_external_id, linked_here)))] if linked_here else []
    if not waiting:
        return
    worker_links = _links(ctx, ref, [w for w, _ in waiting])
    users = directory.get_users(ctx, list(worker_links.values()), include_deleted=False)
    current_managers = directory.managers_of(ctx, list(users))
    settable = [(w, m) for w, m in waiting if worker_links.get(w) in users and links[m] != worker_links[w]]
    results = directory.set_managers(ctx, [(worker_links[w], links[m]) for w, m in settable])
    done = [w for w, _ in waiting if worker_links.get(w) not in users]  # the worker's user is gone
    for (worker_ext, manager_ext), result in zip(settable, results):
        if isinstance(result, GraphError):
            continue
        done.append(worker_ext)
        worker, manager = worker_links[worker_ext], links[manager_ext]
        name = users[worker].get("userPrincipalName") or worker_ext
        record = _Record(0, "", {}, 0, external_id=worker_ext, user_id=worker, after_name=name,
                         action="update" if result else "other", status="success" if result else "skipped")
        record.steps.append(engine.step(
            "EntryExportUpdate", "export", "success" if result else "skipped",
            f"The manager of User '{name}' ({worker_ext}) was resolved to '{manager_ext}' in "
            f"{run.log.target_directory}", {"ReportableIdentifier": worker_ext}))
        if result:
            record.modified.append(("manager", current_managers.get(worker), manager))
        records.append(record)  # logged with the batch; no staged record to mark
    _drop_references(ctx, ref, done)


def _drop_references(ctx: Context, ref: JobRef, workers: list[str]) -> None:
    """The pending references of these workers go."""
    if workers:
        ctx.conn.execute(delete(inbound_references).where(
            inbound_references.c.tenant_id == ref.tenant_id, inbound_references.c.job_id == ref.job_id,
            among(ctx.conn, inbound_references.c.external_id, list(dict.fromkeys(workers)))))


# -- writing the outcome -----------------------------------------------------------------------

def _save(ctx: Context, run: _Run, ref: JobRef, records: list[_Record]) -> None:
    now = ctx.now()
    rows = []
    for record, entry_id in zip(records, directory.ordered_ids(len(records))):
        code, reason = record.error or (None, None)
        source_name = record.attributes.get("displayName") if record.attributes else None
        entry_id, text = engine.entry_json(
            run.log, now=run.now, external_id=record.external_id, action=record.action, status=record.status,
            steps=record.steps, target_id=record.user_id, target_name=record.after_name,
            source_name=source_name if isinstance(source_name, str) else None, modified=record.modified,
            error_code=code, reason=reason, entry_id=entry_id)
        rows.append((ref.tenant_id, entry_id, ref.job_id, run.log.cycle_id, now, record.action, record.status,
                     record.external_id[:64], text))
    directory.insert_rows(ctx, provisioning_logs, ("tenant_id", "id", "job_id", "cycle_id", "activity_at", "action",
                                                   "status", "source_id", "doc"), rows, json_text=("doc",))
    metrics.count_objects("inbound", [(record.action, record.status) for record in records])
    # the applied records are covered by the job's applied_seq; the failed ones say why
    failed = [{"s": r.seq, "e": f"{r.error[0]}: {r.error[1]}"[:2000]} for r in records
              if r.seq and r.status == "failure"]
    if failed:
        ctx.conn.execute(update(inbound_records).where(inbound_records.c.seq == bindparam("s"))
                         .values(status=FAILED, processed_at=now, error=bindparam("e")), failed)


def _isolate(runtime, ref: JobRef, fence: Callable[[Any], None] | None = None) -> int:
    """After a batch failed unexpectedly: its records one per transaction, in order, so the good
    ones before a bad record are applied. A record that fails is tried again (with those after it)
    in the next round and given up after MAX_ATTEMPTS tries; the job's applied_seq never passes a
    record that is still to try."""
    with runtime.db.transaction() as conn:
        job = conn.execute(select(sync_jobs.c.applied_seq).where(_job_where(ref))).first()
        seqs = [] if job is None else [r.seq for r in conn.execute(select(inbound_records.c.seq).where(
            _unapplied(ref.tenant_id, ref.job_id, job.applied_seq)).order_by(inbound_records.c.seq).limit(BATCH_SIZE))]
    count = 0
    for seq in seqs:
        try:
            count += _batch(runtime, ref, 1, only_seq=seq, fence=fence)
        except LeaseLost:
            raise
        except Exception as exc:
            log.exception("inbound record %s of job %s failed", seq, ref.job_id)
            given_up = _attempt_failed(runtime, ref, seq, exc, fence)
            count += 1
            if not given_up:
                break
    return count


def _attempt_failed(runtime, ref: JobRef, seq: int, exc: Exception,
                    fence: Callable[[Any], None] | None = None) -> bool:
    """Count a failed attempt at the record; True when it is given up (marked failed, counted in
    the job's run, logged). A record whose failure cannot be saved so (what broke its processing
    may break its log entry too) is given up all the same, with a short error naming the
    exceptions' classes and no log entry, so that the job goes on past it. Raises on a transient
    database error (the record waits, no attempt counted) and when not even that can be saved
    (then process_due backs the job off)."""
    try:
        return _save_attempt(runtime, ref, seq, exc, fence)
    except LeaseLost:
        raise
    except Exception as error:
        if is_transient(error):
            raise
        failure = error.__class__.__name__
        log.error("inbound record %s of job %s: saving its failure failed (%s); it is given up without a log entry",
                  seq, ref.job_id, failure)
    with runtime.unit(ref.tenant_id) as ctx:
        if fence is not None:
            fence(ctx.conn)
        row = ctx.conn.execute(select(inbound_records.c.status, inbound_records.c.attempts).where(
            inbound_records.c.seq == seq)).first()
        if row is not None and row.status == RECEIVED:
            _give_up(ctx, ref, seq, row.attempts + 1, f"InternalError: The record could not be processed "
                                                      f"({exc.__class__.__name__}) nor its failure logged ({failure}).")
    return True


def _save_attempt(runtime, ref: JobRef, seq: int, exc: Exception, fence: Callable[[Any], None] | None) -> bool:
    with runtime.unit(ref.tenant_id) as ctx:
        if fence is not None:
            fence(ctx.conn)
        row = ctx.conn.execute(select(inbound_records).where(inbound_records.c.seq == seq)).first()
        if row is None or row.status != RECEIVED:
            return True
        attempts = row.attempts + 1
        if attempts < MAX_ATTEMPTS:
            ctx.conn.execute(update(inbound_records).where(inbound_records.c.seq == seq).values(attempts=attempts))
            return False
        reason = f"The record could not be processed after {attempts} attempts ({exc.__class__.__name__})."
        given_up = _give_up(ctx, ref, seq, attempts, f"InternalError: {reason}")
        if given_up is None:
            return True
        job, cycle_id = given_up
        run = _prepare(ctx, ref, job, cycle_id)
        external_id = engine.anchor_of(row.data)
        record = _Record(0, row.bulk_id, row.data, attempts, external_id=external_id, status="failure",
                         error=("InternalError", reason))
        record.steps.append(engine.step("EntrySynchronizationError", "processing", "failure", reason,
                                        {"ReportableIdentifier": external_id}))
        _save(ctx, run, ref, [record])
        return True


def _give_up(ctx: Context, ref: JobRef, seq: int, attempts: int, error: str) -> tuple[Any, str] | None:
    """Mark the record failed (the job goes on past it) and count it in the job's run: the job's
    row and the run's cycle id, or None when the job is gone."""
    job = _lock_job(ctx, ref)
    ctx.conn.execute(update(inbound_records).where(inbound_records.c.seq == seq).values(
        attempts=attempts, status=FAILED, processed_at=ctx.now(), error=error[:2000]))
    if job is None:
        return None
    state = dict(job.state or {})
    cycle = dict(state.get("inboundCycle") or _new_cycle(ctx))
    cycle["imported"] += 1
    cycle["failed"] += 1
    state["inboundCycle"] = cycle
    ctx.conn.execute(update(sync_jobs).where(_job_where(ref)).values(
        state=state, due_at=due.due_at(job.template_id, job.doc, state)))
    return job, cycle["id"]


def _finish_cycle(ctx: Context, ref: JobRef, row, state: dict) -> None:
    """The backlog is empty: the run becomes the job's lastExecution (the row is locked)."""
    cycle = state.pop("inboundCycle")
    now = ctx.now()
    doc = copy.deepcopy(row.doc)
    status = doc["status"]
    execution = {
        "activityIdentifier": cycle["id"], "countEntitled": cycle["imported"],
        "countEntitledForProvisioning": cycle["imported"], "countEscrowed": cycle["failed"],
        "countEscrowedRaw": cycle["failed"], "countExported": cycle["exported"], "countExports": cycle["exported"],
        "countImported": cycle["imported"], "countImportedDeltas": cycle["imported"],
        "countImportedReferenceDeltas": 0, "error": None,
        "state": "EntryLevelErrors" if cycle["failed"] else "Succeeded",
        "timeBegan": cycle["began"], "timeEnded": format_datetime(now)}
    status["lastExecution"] = execution
    metrics.inbound_cycle_ended(ref, cycle, now)  # counted, and one log line, once committed
    status["code"] = "Paused" if doc["schedule"]["state"] == "Paused" else "Active"
    status["countSuccessiveCompleteFailures"] = 0
    status["quarantine"] = None
    if not cycle["failed"]:
        status["lastSuccessfulExecution"] = execution
    if cycle["exported"]:
        status["lastSuccessfulExecutionWithExports"] = execution
    else:
        status["steadyStateLastAchievedTime"] = format_datetime(now)
        if status.get("steadyStateFirstAchievedTime", NEVER) == NEVER:
            status["steadyStateFirstAchievedTime"] = format_datetime(now)
    linked = ctx.conn.execute(select(func.count()).select_from(inbound_links).where(
        inbound_links.c.tenant_id == ref.tenant_id, inbound_links.c.job_id == ref.job_id)).scalar_one()
    plan = engine.compile_plan(row.schema)
    status["synchronizedEntryCountByType"] = [{"key": f"{plan.source_object} to {plan.target_object}",
                                               "value": linked}]
    status["progress"] = [{"completedUnits": cycle["imported"], "totalUnits": cycle["imported"], "units": "records",
                           "progressObservationDateTime": format_datetime(now)}]
    ctx.conn.execute(update(sync_jobs).where(_job_where(ref)).values(
        doc=doc, state=state, due_at=due.due_at(row.template_id, doc, state)))
    audit.purge(ctx, timedelta(days=ctx.settings.log_retention_days))


# -- retention ---------------------------------------------------------------------------------

def maybe_purge(runtime) -> None:
    """Purge accepted records past their retention, at most every PURGE_EVERY in a process."""
    key = id(runtime)
    now = time.monotonic()
    if now - _last_purge.get(key, float("-inf")) < PURGE_EVERY.total_seconds():
        return
    _last_purge[key] = now
    try:
        purge(runtime)
    except Exception:  # retention must never stop processing
        log.exception("purging inbound records failed")


def purge(runtime) -> None:
    """Processed records older than the log retention go; so does everything of deleted jobs."""
    cutoff = runtime.clock.now() - timedelta(days=runtime.settings.log_retention_days)
    applied_seq = select(sync_jobs.c.applied_seq).where(sync_jobs.c.tenant_id == inbound_records.c.tenant_id,
                                                        sync_jobs.c.id == inbound_records.c.job_id).scalar_subquery()
    with runtime.db.transaction() as conn:
        conn.execute(delete(inbound_records).where(inbound_records.c.status != RECEIVED,
                                                   inbound_records.c.processed_at < cutoff))
        conn.execute(delete(inbound_records).where(inbound_records.c.status == RECEIVED,
                                                   inbound_records.c.received_at < cutoff,
                                                   inbound_records.c.seq <= applied_seq))
        for table in (inbound_records, inbound_links, inbound_references):
            conn.execute(delete(table).where(~exists().where(sync_jobs.c.tenant_id == table.c.tenant_id,
                                                             sync_jobs.c.id == table.c.job_id)))
