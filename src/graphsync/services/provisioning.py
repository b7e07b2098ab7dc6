"""Running provisioning cycles for jobs: what is due, one cycle end to end, and the job's status
and state afterwards (reference §6.1, §6.6, §6.9)."""
from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import httpx
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from graphsync import expressions, metrics
from graphsync.connectors.addresses import base_address_problem
from graphsync.connectors.scim import ScimClient, ScimError
from graphsync.connectors.target_policy import TargetNotAllowed, TargetPolicy
from graphsync.engine.cycle import (CredentialsRejected, Cycle, CycleInterrupted, CycleResult, CycleSettings,
                                    LeaseLost)
from graphsync.engine.logs import on_demand_result
from graphsync.engine.mapping import compile_schema
from graphsync.errors import BadRequest, TooManyRequests, not_found
from graphsync.models import NEVER, TIMESPAN_MAX, ProvisionOnDemandBody, format_datetime, parse_duration
from graphsync.services import applications, audit, due, leases, synchronization
from graphsync.services.directory_source import DirectorySource
from graphsync.services.engine_store import DatabaseStateStore
from graphsync.services.tenants import get_tenant
from graphsync.store.db import aware, is_transient, retry_transient
from graphsync.store.engine_tables import cycle_buckets
from graphsync.store.tables import sync_jobs

log = logging.getLogger("graphsync.engine")
SETTING_DIALECT = "ScimPatchCompatibility"  # job setting: "rfc7644" (default) or "entra"
SETTING_CONCURRENCY = "ScimConcurrency"  # job setting: parallel requests to the target (default 8)
SETTING_TIMEOUT = "ScimTimeoutSeconds"  # job setting: per-request timeout (default 30)
SETTING_BULK = "ScimBulkOperations"  # job setting: creates per /Bulk request when the target supports it (0 = off)
DUE_BATCH = 500  # due jobs one poll reads at most (the earliest first); the next poll reads on


@dataclass(frozen=True)
class JobRef:
    tenant_id: str
    owner_id: str
    job_id: str


def due_jobs(runtime, now: datetime, limit: int = DUE_BATCH) -> list[JobRef]:
    """Active outbound jobs whose next cycle is due (or was asked for by start/restart), the
    longest waiting first: a probe of the index on ``due_at`` (services/due.py)."""
    with runtime.db.reading() as conn:
        rows = conn.execute(select(sync_jobs.c.tenant_id, sync_jobs.c.owner_id, sync_jobs.c.id,
                                   sync_jobs.c.template_id).where(sync_jobs.c.due_at <= now)
                            .order_by(sync_jobs.c.due_at).limit(limit)).all()
    return [JobRef(row.tenant_id, row.owner_id, row.id) for row in rows if due.is_outbound(row.template_id)]


def next_due(runtime, now: datetime) -> datetime | None:
    """When the soonest job falls due after ``now`` (an index probe), None when none is scheduled."""
    with runtime.db.reading() as conn:
        soonest = conn.execute(select(func.min(sync_jobs.c.due_at)).where(sync_jobs.c.due_at > now)).scalar()
    return aware(soonest) if soonest is not None else None


def still_due(runtime, ref: JobRef) -> bool:
    """Read again once the lease is ours: another process may have run the cycle since the list
    of due jobs was read (and released the lease since)."""
    with runtime.db.reading() as conn:
        row = conn.execute(select(sync_jobs.c.template_id, sync_jobs.c.due_at).where(
            sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
            sync_jobs.c.id == ref.job_id)).first()
    return row is not None and due.is_outbound(row.template_id) and row.due_at is not None and \
        aware(row.due_at) <= runtime.clock.now()


def run_leased(runtime, ref: JobRef, should_stop: Callable[[], bool] = lambda: False, *,
               transport: httpx.AsyncBaseTransport | None = None,
               split: Callable[[leases.Lease], bool] | None = None) -> bool:
    """The scheduler's way to run a due job: under the job's lease, so no other process runs the
    same job meanwhile, and only if it is still due. False = skipped (held elsewhere, or no longer
    due). The cycle stops (the objects under way finish and are linked) once ``should_stop`` says so
    or the lease is lost. ``split(lease)`` may hand the cycle to buckets instead (True)."""
    with leases.held(runtime, ref.tenant_id, ref.job_id) as lease:
        if lease is None or not still_due(runtime, ref):
            return False
        if split is None or not split(lease):
            run_cycle(runtime, ref, transport=transport, lease=lease, should_stop=should_stop)
        return True


def _setting(doc: dict, name: str, default: str) -> str:
    return next((s.get("value") for s in doc.get("synchronizationJobSettings") or [] if s.get("name") == name),
                None) or default


def delete_threshold(doc: dict, secrets: dict[str, str]) -> int | None:
    """The accidental-deletion threshold: the job setting QuarantineTooManyDeletesThreshold, else
    SyncNotificationSettings' DeleteThresholdValue when DeleteThresholdEnabled; None = no limit."""
    setting = _setting(doc, "QuarantineTooManyDeletesThreshold", "")
    if setting.strip().isdigit():
        return int(setting)
    try:
        notify = json.loads(secrets.get("SyncNotificationSettings") or "{}")
    except ValueError:
        return None
    if isinstance(notify, dict) and notify.get("DeleteThresholdEnabled"):
        return int(notify.get("DeleteThresholdValue") or 500)
    return None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1")


@dataclass
class Prepared:
    """Everything a run needs, read in one transaction."""

    doc: dict[str, Any]
    schema: dict[str, Any]
    state: dict[str, Any]
    secrets: dict[str, str]
    settings: CycleSettings
    context: expressions.EvaluationContext
    store: DatabaseStateStore
    source: DirectorySource
    ref: JobRef
    policy: TargetPolicy = TargetPolicy()
    on_progress: Callable[[int, int], None] | None = None  # instead of the job's own (a bucket's: buckets.py)

    def target(self, transport: httpx.AsyncBaseTransport | None = None, *,
               lease: leases.Lease | None = None) -> ScimClient:
        """The job's SCIM client; with a ``lease``, no write leaves unless the lease is provably held."""
        if not self.secrets.get("BaseAddress"):
            raise CredentialsRejected("The job has no BaseAddress secret: set the SCIM endpoint with PUT "
                                      ".../synchronization/secrets.")
        problem = base_address_problem(self.secrets["BaseAddress"])  # one saved before addresses were checked
        if problem:
            raise CredentialsRejected(f"{problem} Correct it with PUT .../synchronization/secrets.")
        try:
            self.policy.check(self.secrets["BaseAddress"])
        except TargetNotAllowed as exc:
            raise CredentialsRejected(str(exc)) from None
        concurrency = max(1, min(64, int(_setting(self.doc, SETTING_CONCURRENCY, "8"))))
        timeout = max(0.5, float(_setting(self.doc, SETTING_TIMEOUT, "30")))
        return ScimClient(self.secrets["BaseAddress"], self.secrets.get("SecretToken"), concurrency=concurrency,
                          timeout=timeout, transport=transport, before_write=lease.guard if lease else None)

    def cycle(self, runtime, target: ScimClient, *, stoppable: bool = True,
              interrupt: Callable[[], bool] | None = None) -> Cycle:
        """A cycle; a ``stoppable`` one stops within its current page once the job is paused, or
        ``interrupt`` says so (the process stops, or its lease was lost)."""
        if stoppable:
            def should_stop() -> bool:
                return (interrupt is not None and interrupt()) or not _still_active(runtime, self.ref)
        else:
            def should_stop() -> bool:
                return False
        return Cycle(compile_schema(self.schema), self.settings, self.source, target, self.store,
                     runtime.clock.now, self.context, should_stop=should_stop,
                     delete_threshold=delete_threshold(self.doc, self.secrets),
                     force_deletes="ForceDeletes" in (self.state.get("resets") or []),
                     on_progress=_at_most_every(PROGRESS_SECONDS, self.on_progress or (lambda done, total: _progress(
                         runtime, self.ref, self.store, done, total))) if stoppable else None)


def prepare(runtime, ref: JobRef, lease: leases.Lease | None = None) -> Prepared | None:
    """What a run of the job needs; with a ``lease``, its store writes are fenced by it."""
    with runtime.unit(ref.tenant_id) as ctx:
        row = ctx.conn.execute(select(sync_jobs).where(sync_jobs.c.tenant_id == ref.tenant_id,
                                                       sync_jobs.c.owner_id == ref.owner_id,
                                                       sync_jobs.c.id == ref.job_id)).first()
        if row is None:
            return None
        kind = "servicePrincipals" if applications.find_service_principal(ctx, ref.owner_id) else "applications"
        owner = synchronization.resolve_owner(ctx, kind, ref.owner_id)
        owner_doc = (applications.get_service_principal(ctx, ref.owner_id) if kind == "servicePrincipals"
                     else applications.get_application(ctx, ref.owner_id))
        secrets = synchronization.read_secrets(ctx, owner)
        tenant = get_tenant(ctx.conn, ref.tenant_id)
        doc, schema, state = copy.deepcopy(row.doc), row.schema, dict(row.state or {})
    settings = CycleSettings(
        tenant_id=ref.tenant_id, job_id=ref.job_id, service_principal_id=ref.owner_id,
        service_principal_name=owner_doc.get("displayName") or "", application_id=owner_doc.get("appId") or "",
        sync_all=_truthy(secrets.get("SyncAll")),
        skip_out_of_scope_deletions=_truthy(secrets.get("SkipOutOfScopeDeletions")),
        dialect="entra" if _setting(doc, SETTING_DIALECT, "rfc7644").lower() == "entra" else "rfc7644")
    context = expressions.EvaluationContext(clock=runtime.clock.now,
                                            default_domain=tenant.default_domain if tenant else None)
    store = DatabaseStateStore(lambda: runtime.unit(ref.tenant_id), ref.tenant_id, ref.job_id,
                               fence=lease.fence if lease else None)
    source = DirectorySource(lambda: runtime.unit(ref.tenant_id, read_only=True), ref.owner_id)
    return Prepared(doc, schema, state, secrets, settings, context, store, source, ref, runtime.target_policy)


PROGRESS_SECONDS = 1.0  # how often a running cycle writes its progress to the job


def _at_most_every(seconds: float, update: Callable[[int, int], None],
                   clock: Callable[[], float] = time.monotonic) -> Callable[[int, int], None]:
    """The first call, then at most one per ``seconds`` (wall time: how fresh the dashboard is).
    Progress counts the job's links, a query that follows the directory's size: at every page, an
    incremental cycle of 1,000 changes in a 1M-user directory spent a third of its time there."""
    last = [float("-inf")]

    def call(done: int, total: int) -> None:
        now = clock()
        if now - last[0] >= seconds:
            last[0] = now
            update(done, total)
    return call


def _progress(runtime, ref: JobRef, store: DatabaseStateStore, done: int, total: int) -> None:
    """While a cycle runs, the job shows how far it is and how many objects are linked."""
    try:
        counts = store.count_links()
    except DBAPIError:  # progress is worth no failed cycle; the next page tries again
        log.warning("the progress of job %s was not written", ref.job_id, exc_info=True)
        return
    now = runtime.clock.now()
    with store.transaction() as ctx:  # fenced: a former lease holder writes no progress
        row = ctx.conn.execute(select(sync_jobs.c.doc).where(
            sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
            sync_jobs.c.id == ref.job_id).with_for_update()).first()
        if row is None:
            return
        doc = copy.deepcopy(row.doc)
        doc["status"]["progress"] = [{"completedUnits": done, "totalUnits": total, "units": "objects",
                                      "progressObservationDateTime": format_datetime(now)}]
        doc["status"]["synchronizedEntryCountByType"] = _entry_counts(counts)
        ctx.conn.execute(update(sync_jobs).where(sync_jobs.c.tenant_id == ref.tenant_id,
                                                 sync_jobs.c.owner_id == ref.owner_id,
                                                 sync_jobs.c.id == ref.job_id).values(doc=doc))


def _entry_counts(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"key": f"{kind} to {kind.capitalize()}", "value": n} for kind, n in sorted(counts.items())]


@retry_transient
def _still_active(runtime, ref: JobRef) -> bool:
    """Asked by a running cycle at every page and every few objects: pause (or delete) stops it."""
    with runtime.db.reading() as conn:  # the schedule's state alone, not the whole document
        state = conn.execute(select(sync_jobs.c.doc[("schedule", "state")].as_string()).where(
            sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
            sync_jobs.c.id == ref.job_id)).scalar()
    return state == "Active"


def run_cycle(runtime, ref: JobRef, *, transport: httpx.AsyncBaseTransport | None = None,
              lease: leases.Lease | None = None,
              should_stop: Callable[[], bool] | None = None) -> CycleResult | None:
    """Run one cycle of a job now, in the calling thread (which must not run an event loop).
    With a ``lease``, the lease is renewed at every page, a lost lease ends the cycle there, no
    write reaches the target unless the lease is provably held, and the store's writes are fenced
    by it. A bucketed initial cycle whose buckets are all through (services/buckets.py) is
    finished here: groups, escrow retries, deletes and references, and its record."""
    from graphsync.services import buckets
    prepared = prepare(runtime, ref, lease)
    if prepared is None:
        return None
    state, store = prepared.state, prepared.store
    began = runtime.clock.now()
    observed = metrics.OutboundCycle(ref, state)  # counted, and one log line, when it ends
    result: CycleResult | None = None
    error: dict[str, Any] | None = None
    quarantine_reason = None
    finishing = buckets.finishing(runtime, ref, state)  # None, or the bucketed cycle to finish
    try:
        if finishing is None:
            apply_resets(state, store)
        initial = bool(state.get("initialCyclePending", True)) or "watermark" not in state
        if finishing is not None:
            began = finishing.began
            error, quarantine_reason = finishing.error, finishing.quarantine_reason
        if error is None:
            result = drive(runtime, prepared, transport, lease, should_stop, lambda cycle: cycle.run(
                initial=initial or finishing is not None,
                watermark=finishing.watermark if finishing else int(state.get("watermark", 0)),
                cycle_id=finishing.cycle_id if finishing else None, users_done=finishing is not None))
            if finishing is not None:
                finishing.add_to(result)
            if result.held_deletes:
                error = {"code": "TooManyDeletes", "tenantActionable": True,
                         "message": f"{result.held_deletes} deletions exceed the accidental-deletion threshold; "
                                    "restart the job with resetScope ForceDeletes to process them."}
                quarantine_reason = "TooManyDeletes"
    except CycleInterrupted as exc:
        observed.end("interrupted")
        if isinstance(exc, LeaseLost):
            log.warning("cycle of job %s stopped: its lease was lost; whoever holds it now carries on", ref.job_id)
        return None  # paused or deleted: what was exported is linked; the watermark stays
    except Exception as exc:
        error, quarantine_reason = failure(exc, ref)
    try:
        _record(runtime, ref, result, error, quarantine_reason, began, store, state.get("generation", 0),
                bucketed=(state.get("bucketedCycle") or {}).get("id"))  # finished, or run over as one
    except LeaseLost:
        observed.end("interrupted")
        log.warning("cycle of job %s: its lease was lost before its outcome was recorded", ref.job_id)
        return None
    observed.end("failed" if error else "succeeded", result, error)
    return result


def apply_resets(state: dict[str, Any], store: DatabaseStateStore) -> None:
    """What restart's resetScope asked the next cycle to forget (its watermark is state's)."""
    resets = set(state.get("resets") or [])
    if "ConnectorDataStore" in resets:
        store.clear_all()
    elif "Escrows" in resets:
        store.clear_all_escrows()


def drive(runtime, prepared: Prepared, transport: httpx.AsyncBaseTransport | None, lease: leases.Lease | None,
          should_stop: Callable[[], bool] | None, run: Callable[[Cycle], Any]) -> CycleResult:
    """``run(cycle)`` with the job's SCIM client (creates in /Bulk when the job asks), in a new
    event loop. The cycle stops at its next page once ``should_stop`` says so or the lease is lost."""
    def interrupt() -> bool:
        return (should_stop is not None and should_stop()) or (lease is not None and not lease.check())

    async def go() -> CycleResult:
        async with prepared.target(transport, lease=lease) as target:
            bulk = int(_setting(prepared.doc, SETTING_BULK, "0"))
            if bulk > 1:
                await target.enable_bulk(bulk)
            return await run(prepared.cycle(runtime, target, interrupt=interrupt))
    return asyncio.run(go())


def failure(exc: Exception, ref: JobRef) -> tuple[dict[str, Any], str | None]:
    """The lastExecution.error of a cycle that raised ``exc``, and its quarantine reason."""
    if isinstance(exc, CredentialsRejected):
        return {"code": "CredentialsRejected", "message": str(exc), "tenantActionable": True}, \
            "EncounteredQuarantineException"
    if isinstance(exc, (ScimError, httpx.HTTPError, OSError)):
        return {"code": getattr(exc, "code", "TargetUnavailable"), "message": str(exc), "tenantActionable": False}, None
    if isinstance(exc, DBAPIError):
        log.warning("cycle of job %s failed on a database error", ref.job_id, exc_info=exc)
        return {"code": STORE_UNAVAILABLE if is_transient(exc) else "InternalError", "tenantActionable": False,
                "message": f"The cycle failed on a database error ({exc.__class__.__name__}); it resumes "
                           "where it stopped."}, None
    log.error("cycle of job %s failed", ref.job_id, exc_info=exc)  # a bug must not kill the engine
    return {"code": "InternalError", "message": f"The cycle failed: {exc.__class__.__name__}",
            "tenantActionable": False}, None


STORE_UNAVAILABLE = "StoreUnavailable"  # a cycle that failed on a transient database error
STORE_RETRY_FIRST = timedelta(seconds=2)  # … runs again after 2 s, then 4, 8 … up to its interval


def _execution(result: CycleResult | None, error: dict | None, began: datetime, ended: datetime) -> dict[str, Any]:
    return {
        "activityIdentifier": result.cycle_id if result else None,
        "countEntitled": result.imported if result else 0,
        "countEntitledForProvisioning": result.imported if result else 0,
        "countEscrowed": result.escrowed if result else 0,
        "countEscrowedRaw": result.escrowed if result else 0,
        "countExported": result.exported if result else 0,
        "countExports": result.exported if result else 0,
        "countImported": result.imported if result else 0,
        "countImportedDeltas": result.deltas if result else 0,
        "countImportedReferenceDeltas": 0,
        "error": error,
        "state": "Failed" if error else ("EntryLevelErrors" if result.escrowed else "Succeeded"),
        "timeBegan": format_datetime(began),
        "timeEnded": format_datetime(ended),
    }


# Escrow thresholds (reference §6.6): evaluated from 5,000 failures; quarantine above 40 % of the
# objects or above 40,000 failures.
ESCROW_EVALUATION_START = 5000
ESCROW_PROPORTION = 0.4
ESCROW_TOTAL = 40000
QUARANTINE_LIMIT = timedelta(days=28)  # a job quarantined longer than this is disabled


def escrow_quarantine_reason(escrowed: int, linked: int) -> str | None:
    if escrowed < ESCROW_EVALUATION_START:
        return None
    if escrowed > ESCROW_TOTAL:
        return "EncounteredTotalEscrowThreshold"
    if escrowed / max(1, escrowed + linked) > ESCROW_PROPORTION:
        return "EncounteredEscrowProportionThreshold"
    return None


def _quarantine(doc: dict, reason: str, error: dict, now: datetime) -> None:
    """Put the job in quarantine (or keep it there); after four weeks it is disabled."""
    status, schedule = doc["status"], doc["schedule"]
    previous = status.get("quarantine") or {}
    series_began = previous.get("seriesBegan") or format_datetime(now)
    status["code"] = "Quarantine"
    status["quarantine"] = {
        "currentBegan": format_datetime(now), "nextAttempt": format_datetime(now + timedelta(days=1)),
        "reason": reason, "seriesBegan": series_began,
        "seriesCount": int(previous.get("seriesCount", 0)) + 1 if previous else 0, "error": error}
    if now - datetime.fromisoformat(series_began.replace("Z", "+00:00")) > QUARANTINE_LIMIT:
        schedule["state"] = "Disabled"
        schedule["interval"] = TIMESPAN_MAX


@retry_transient
def _record(runtime, ref: JobRef, result: CycleResult | None, error: dict | None, quarantine_reason: str | None,
            began: datetime, store: DatabaseStateStore, generation: int, *, bucketed: str | None = None) -> None:
    """The job's status and state after a cycle (reference §6.9). ``bucketed``: the id of the
    bucketed initial cycle this ends (its buckets are forgotten)."""
    now = runtime.clock.now()
    counts = store.count_links() if result else {}
    escrowed = store.count_escrows() if result else 0
    with store.transaction() as ctx:  # fenced: only the lease's holder records the cycle
        row = ctx.conn.execute(select(sync_jobs).where(sync_jobs.c.tenant_id == ref.tenant_id,
                                                       sync_jobs.c.owner_id == ref.owner_id,
                                                       sync_jobs.c.id == ref.job_id).with_for_update()).first()
        if row is None:  # deleted while the cycle ran
            return
        doc, state = copy.deepcopy(row.doc), dict(row.state or {})
        if bucketed is not None and (state.get("bucketedCycle") or {}).get("id") == bucketed:
            state.pop("bucketedCycle")
            ctx.conn.execute(delete(cycle_buckets).where(cycle_buckets.c.tenant_id == ref.tenant_id,
                                                         cycle_buckets.c.job_id == ref.job_id))
        status = doc["status"]
        execution = _execution(result, error, began, now)
        status["lastExecution"] = execution
        unchanged = state.get("generation", 0) == generation  # no restart or schema change meanwhile
        if result is not None:
            status["synchronizedEntryCountByType"] = _entry_counts(counts)
            status["progress"] = [{"completedUnits": result.imported, "totalUnits": result.imported,
                                   "units": "objects", "progressObservationDateTime": format_datetime(now)}]
        if error:
            status["countSuccessiveCompleteFailures"] = status.get("countSuccessiveCompleteFailures", 0) + 1
            if quarantine_reason:
                _quarantine(doc, quarantine_reason, error, now)
        else:
            status["countSuccessiveCompleteFailures"] = 0
            status["code"] = "Paused" if doc["schedule"]["state"] == "Paused" else "Active"
            status["quarantine"] = None
            if not result.escrowed:
                status["lastSuccessfulExecution"] = execution
            if result.exported:
                status["lastSuccessfulExecutionWithExports"] = execution
            else:  # nothing left to change: steady state
                status["steadyStateLastAchievedTime"] = format_datetime(now)
                if status.get("steadyStateFirstAchievedTime", NEVER) == NEVER:
                    status["steadyStateFirstAchievedTime"] = format_datetime(now)
            state["watermark"] = result.watermark
            if unchanged:
                state["initialCyclePending"] = False
                state["resets"] = []
            reason = escrow_quarantine_reason(escrowed, sum(counts.values()))
            if reason:
                _quarantine(doc, reason, {"code": "EscrowThresholdExceeded", "tenantActionable": True,
                                          "message": f"{escrowed} objects failed to provision."}, now)
        if unchanged:
            state["runRequested"] = False
        interval = parse_duration(doc["schedule"]["interval"])
        if status["code"] == "Quarantine":
            interval = max(interval, timedelta(days=1))  # quarantined jobs cycle at most daily
        elif error and error["code"] == STORE_UNAVAILABLE:  # the cycle resumes as soon as the database answers
            failures = max(1, status["countSuccessiveCompleteFailures"])
            interval = min(interval, STORE_RETRY_FIRST * 2 ** min(failures - 1, 16))
        # a job that is not active (never started, paused, disabled) has no next run
        state["nextRunAt"] = (now + interval).isoformat() if interval < timedelta(days=36500) else None
        ctx.conn.execute(update(sync_jobs).where(sync_jobs.c.tenant_id == ref.tenant_id,
                                                 sync_jobs.c.owner_id == ref.owner_id,
                                                 sync_jobs.c.id == ref.job_id).values(
            doc=doc, state=state, due_at=due.due_at(row.template_id, doc, state)))
        audit.purge(ctx, timedelta(days=runtime.settings.log_retention_days))


ON_DEMAND_LIMIT = (5, timedelta(seconds=10))  # Entra: 5 requests per 10 seconds
_on_demand_calls: dict[str, list[datetime]] = {}
_on_demand_lock = threading.Lock()


def _rate_limit(runtime, key: str) -> None:
    count, window = ON_DEMAND_LIMIT
    now = runtime.clock.now()
    with _on_demand_lock:
        recent = [t for t in _on_demand_calls.get(key, []) if now - t < window]
        if len(recent) >= count:
            retry = int((window - (now - recent[0])).total_seconds()) + 1
            raise TooManyRequests(f"provisionOnDemand allows {count} requests per {window.seconds} seconds per job.",
                                  headers={"Retry-After": str(retry)})
        _on_demand_calls[key] = recent + [now]


def provision_on_demand(runtime, ref: JobRef, body: ProvisionOnDemandBody,
                        transport: httpx.AsyncBaseTransport | None = None) -> dict[str, str]:
    """Run the pipeline now for one user, or a group with its listed members (users first)."""
    _rate_limit(runtime, f"{ref.tenant_id}/{ref.job_id}")
    prepared = prepare(runtime, ref)
    if prepared is None:
        raise not_found("synchronizationJob", ref.job_id)
    parameters = body.parameters[0]
    rule_ids = {rule.get("id") for rule in prepared.schema.get("synchronizationRules") or []}
    if parameters.rule_id and parameters.rule_id not in rule_ids:
        raise BadRequest(f"The ruleId '{parameters.rule_id}' is not a synchronization rule of the job's schema.")
    subjects: list[tuple[str, str]] = []
    for subject in parameters.subjects:
        kind = subject.object_type_name.lower()
        if kind not in ("user", "group"):
            raise BadRequest(f"objectTypeName must be User or Group, not '{subject.object_type_name}'.")
        members = [("user" if m.object_type_name.lower() == "user" else "group", m.object_id)
                   for m in (subject.links.members if subject.links and subject.links.members else [])]
        subjects += members + [(kind, subject.object_id)]
    known = prepared.source.get("user", [s for k, s in subjects if k == "user"]) | \
        prepared.source.get("group", [s for k, s in subjects if k == "group"])
    missing = [sid for _, sid in subjects if sid not in known]
    if missing:
        raise BadRequest(f"The object(s) {', '.join(missing)} do not exist in the directory.")

    async def go() -> list[dict[str, Any]]:
        async with prepared.target(transport) as target:
            return await prepared.cycle(runtime, target, stoppable=False).run_subjects(subjects)

    try:
        entries = asyncio.run(go())
    except CredentialsRejected as exc:
        raise BadRequest(f"The target refused the job's credentials: {exc}", code="CredentialsRejected") from None
    primary = parameters.subjects[-1].object_id if len(parameters.subjects) == 1 else parameters.subjects[0].object_id
    entry = next((e for e in entries if e["sourceIdentity"]["id"] == primary), entries[0] if entries else None)
    if entry is None:
        raise BadRequest("Nothing was processed: the job's schema has no enabled mapping for these objects.")
    return on_demand_result(entry)
