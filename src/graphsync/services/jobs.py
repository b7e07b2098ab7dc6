"""Synchronization jobs: lifecycle, schedule, settings and schema.

The state model follows Entra (reference §6.9): a new job is Disabled with an infinite interval
and status NotConfigured; start activates the schedule (status NotRun until a cycle completes)
and clears quarantine; pause keeps all state; restart records what the next cycle must reset.
The engine reads ``state`` (never rendered) to know what to do next.
"""
from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from graphsync.connectors.scim import RetryPolicy, ScimClient, ScimError
from graphsync.connectors.target_policy import TargetNotAllowed, TargetPolicy
from graphsync.errors import BadRequest, not_found
from graphsync.models import (NEVER, TIMESPAN_MAX, JobCreate, JobUpdate, KeyValuePair, RestartBody,
                              SynchronizationSchema, ValidateCredentialsBody, format_datetime, format_duration,
                              parse_duration)
from graphsync.services import schema as schemas
from graphsync.services import due, templates
from graphsync.services.context import Context
from graphsync.services.paging import Page
from graphsync.services.synchronization import Owner, check_base_address, validate_secret
from graphsync.store.engine_tables import cycle_buckets
from graphsync.store.tables import sync_jobs

DEFAULT_INTERVAL = "PT40M"  # Entra's app provisioning cycle interval
MIN_INTERVAL = timedelta(seconds=1)
INTEGER_SETTINGS = ("QuarantineTooManyDeletesThreshold", "ScimConcurrency", "ScimTimeoutSeconds",
                    "ScimBulkOperations", "BulkUploadMaxOperations", "BulkUploadRequestsPerSecond")


def new_status() -> dict[str, Any]:
    return {
        "code": "NotConfigured",
        "countSuccessiveCompleteFailures": 0,
        "escrowsPruned": False,
        "lastExecution": None,
        "lastSuccessfulExecution": None,
        "lastSuccessfulExecutionWithExports": None,
        "progress": [],
        "quarantine": None,
        "steadyStateFirstAchievedTime": NEVER,
        "steadyStateLastAchievedTime": NEVER,
        "synchronizedEntryCountByType": [],
        "troubleshootingUrl": None,
    }


def _where(ctx: Context, owner: Owner):
    return (sync_jobs.c.tenant_id == ctx.tenant_id) & (sync_jobs.c.owner_id == owner.id)


def _row(ctx: Context, owner: Owner, job_id: str, *, for_update: bool = False):
    """The job's row; ``for_update`` locks it (PostgreSQL) so concurrent read-modify-writes of the
    job (API calls, the engine recording a cycle) do not overwrite each other."""
    query = select(sync_jobs).where(_where(ctx, owner), sync_jobs.c.id == job_id)
    row = ctx.conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise not_found("synchronizationJob", job_id)
    return row


def _save(ctx: Context, owner: Owner, job_id: str, **values) -> None:
    ctx.conn.execute(update(sync_jobs).where(_where(ctx, owner), sync_jobs.c.id == job_id).values(**values))


# ------------------------------------------------------------------------------------------------
# CRUD

def list_jobs(ctx: Context, owner: Owner, offset: int, limit: int) -> Page:
    where = _where(ctx, owner)
    rows = ctx.conn.execute(select(sync_jobs.c.id, sync_jobs.c.doc, sync_jobs.c.state).where(where)
                            .order_by(sync_jobs.c.created_at, sync_jobs.c.id).offset(offset).limit(limit)).all()
    total = count_jobs(ctx, owner)
    return Page(_rendered(ctx, rows), total, offset + limit if offset + limit < total else None)


def count_jobs(ctx: Context, owner: Owner) -> int:
    return ctx.conn.execute(select(func.count()).select_from(sync_jobs).where(_where(ctx, owner))).scalar_one()


def get_job(ctx: Context, owner: Owner, job_id: str) -> dict[str, Any]:
    return _rendered(ctx, [_row(ctx, owner, job_id)])[0]


def _rendered(ctx: Context, rows) -> list[dict[str, Any]]:
    """The jobs' documents as the API shows them. While a bucketed initial cycle runs
    (services/buckets.py), its progress is the sum of its buckets', added up here: buckets each
    write only their own row, so workers sharing one cycle never wait on the job's row."""
    cycles = {row.id: row.state["bucketedCycle"]["id"] for row in rows if (row.state or {}).get("bucketedCycle")}
    if not cycles:
        return [row.doc for row in rows]
    sums = {job_id: (done, total) for job_id, done, total in ctx.conn.execute(
        select(cycle_buckets.c.job_id, func.sum(cycle_buckets.c.imported), func.sum(cycle_buckets.c.total))
        .where(cycle_buckets.c.tenant_id == ctx.tenant_id, cycle_buckets.c.job_id.in_(cycles),
               cycle_buckets.c.cycle_id.in_(set(cycles.values())))
        .group_by(cycle_buckets.c.job_id))}
    docs = []
    for row in rows:
        doc = row.doc
        if row.id in sums:
            done, total = sums[row.id]
            doc = {**doc, "status": {**doc["status"], "progress": [{
                "completedUnits": int(done or 0), "totalUnits": int(total or 0), "units": "objects",
                "progressObservationDateTime": format_datetime(ctx.now())}]}}
        docs.append(doc)
    return docs


def create_job(ctx: Context, owner: Owner, body: JobCreate) -> dict[str, Any]:
    if not templates.template_exists(ctx, owner, body.template_id):
        raise BadRequest(f"The template '{body.template_id}' is not a synchronization template of this application; "
                         "list them with GET .../synchronization/templates.", code="InvalidTemplateId")
    job_id = f"{body.template_id}.{ctx.tenant_id.replace('-', '')}.{uuid.uuid4()}"
    schema = copy.deepcopy(templates.get_template_schema(ctx, owner, body.template_id))
    schema["id"] = job_id
    doc = {
        "id": job_id,
        "templateId": body.template_id,
        "schedule": {"expiration": None, "interval": TIMESPAN_MAX, "state": "Disabled"},
        "status": new_status(),
        "synchronizationJobSettings": _settings(body.synchronization_job_settings or []),
    }
    ctx.conn.execute(insert(sync_jobs).values(tenant_id=ctx.tenant_id, owner_id=owner.id, id=job_id,
                                              template_id=body.template_id, doc=doc, schema=schema,
                                              state={"initialCyclePending": True, "resets": []},
                                              created_at=ctx.now()))
    return doc


def _settings(pairs: list[KeyValuePair]) -> list[dict[str, Any]]:
    names = [p.name for p in pairs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise BadRequest(f"The job setting(s) {', '.join(repeated)} appear more than once.")
    for pair in pairs:
        if not pair.name.strip():
            raise BadRequest("A job setting needs a name.")
        if pair.name in INTEGER_SETTINGS and not (pair.value or "").strip().isdigit():
            raise BadRequest(f"The job setting '{pair.name}' must be a non-negative integer.")
    return [p.dump() for p in pairs]


def update_job(ctx: Context, owner: Owner, job_id: str, body: JobUpdate) -> dict[str, Any]:
    """PATCH job (what the SDK sends): ``schedule.interval``/``expiration`` and the job settings.
    Read-only properties may be echoed back unchanged; changing them is a 400."""
    row = _row(ctx, owner, job_id, for_update=True)
    doc = copy.deepcopy(row.doc)
    if body.id is not None and body.id != job_id:
        raise BadRequest("The id of a synchronization job is read-only.")
    if body.template_id is not None and body.template_id != row.template_id:
        raise BadRequest("The templateId of a synchronization job is read-only.")
    if body.status is not None and body.status.get("code", doc["status"]["code"]) != doc["status"]["code"]:
        raise BadRequest("The status of a synchronization job is read-only; use start, pause or restart.")
    if body.schedule is not None:
        fields = body.schedule.model_fields_set
        schedule = doc["schedule"]
        if "state" in fields and body.schedule.state != schedule["state"]:
            raise BadRequest("schedule.state is changed by the start and pause actions, not by PATCH.")
        if "interval" in fields:
            if body.schedule.interval is None or body.schedule.interval < MIN_INTERVAL:
                raise BadRequest("schedule.interval must be a duration of at least one second, e.g. 'PT40M'.")
            schedule["interval"] = format_duration(body.schedule.interval)
        if "expiration" in fields:
            schedule["expiration"] = body.schedule.dump()["expiration"]
    if body.synchronization_job_settings is not None:
        doc["synchronizationJobSettings"] = _settings(body.synchronization_job_settings)
    _save(ctx, owner, job_id, doc=doc)
    return doc


def delete_job(ctx: Context, owner: Owner, job_id: str) -> None:
    """Deletes the job and all its state; what it provisioned in the target stays as it is."""
    _row(ctx, owner, job_id)
    ctx.conn.execute(delete(sync_jobs).where(_where(ctx, owner), sync_jobs.c.id == job_id))


# ------------------------------------------------------------------------------------------------
# Lifecycle actions

def start(ctx: Context, owner: Owner, job_id: str) -> None:
    row = _row(ctx, owner, job_id, for_update=True)
    doc = copy.deepcopy(row.doc)
    schedule, status = doc["schedule"], doc["status"]
    schedule["state"] = "Active"
    if schedule["interval"] == TIMESPAN_MAX:
        schedule["interval"] = DEFAULT_INTERVAL
    status["code"] = "Active" if status.get("lastExecution") else "NotRun"
    status["quarantine"] = None
    state = dict(row.state)
    state["runRequested"] = True
    _save(ctx, owner, job_id, doc=doc, state=state, due_at=due.due_at(row.template_id, doc, state))


def pause(ctx: Context, owner: Owner, job_id: str) -> None:
    row = _row(ctx, owner, job_id, for_update=True)
    doc = copy.deepcopy(row.doc)
    doc["schedule"]["state"] = "Paused"
    doc["status"]["code"] = "Paused"
    state = dict(row.state)
    state["runRequested"] = False
    _save(ctx, owner, job_id, doc=doc, state=state, due_at=due.due_at(row.template_id, doc, state))


RESTART_DEFAULT = ("QuarantineState", "Watermark", "Escrows")  # the portal's "Restart provisioning"
FULL = ("ConnectorDataStore", "Escrows", "Watermark", "QuarantineState")


def restart(ctx: Context, owner: Owner, job_id: str, body: RestartBody | None) -> None:
    """Forces a new start; what to clear (watermark, escrows, quarantine, connector data store,
    held-back deletes) is recorded for the engine's next cycle."""
    row = _row(ctx, owner, job_id, for_update=True)
    scope = (body.criteria.reset_scope if body and body.criteria and body.criteria.reset_scope else None)
    flags = [f.strip() for f in scope.split(",")] if scope else list(RESTART_DEFAULT)
    if "Full" in flags:
        flags = [f for f in flags if f != "Full"] + [f for f in FULL if f not in flags]
    flags = [f for f in flags if f != "None"]
    doc = copy.deepcopy(row.doc)
    doc["schedule"]["state"] = "Active"
    if doc["schedule"]["interval"] == TIMESPAN_MAX:
        doc["schedule"]["interval"] = DEFAULT_INTERVAL
    status = doc["status"]
    if "QuarantineState" in flags:
        status["quarantine"] = None
    if status["code"] != "Quarantine" or "QuarantineState" in flags:
        status["code"] = "NotRun" if "Watermark" in flags or not status.get("lastExecution") else "Active"
    if "Escrows" in flags:
        status["escrowsPruned"] = False
    state = dict(row.state)
    state["resets"] = sorted(set(state.get("resets", [])) | set(flags))
    state["runRequested"] = True
    state["generation"] = state.get("generation", 0) + 1  # a cycle running now must not clear this
    state.pop("bucketedCycle", None)  # a bucketed cycle under way is abandoned: the next one starts over
    if "Watermark" in flags:
        state["initialCyclePending"] = True
    _save(ctx, owner, job_id, doc=doc, state=state, due_at=due.due_at(row.template_id, doc, state))


def credentials_for_validation(ctx: Context, owner: Owner, job_id: str | None,
                               body: ValidateCredentialsBody) -> dict[str, str]:
    """The credentials validateCredentials must test: the saved ones, or the ones sent."""
    if job_id is not None:
        _row(ctx, owner, job_id)
    elif body.template_id and not templates.template_exists(ctx, owner, body.template_id):
        raise BadRequest(f"The template '{body.template_id}' is not a synchronization template of this application.")
    for pair in body.credentials or []:
        validate_secret(pair)
    if body.use_saved_credentials:
        from graphsync.services.synchronization import read_secrets
        credentials = read_secrets(ctx, owner)
    elif body.credentials:
        credentials = {p.key: p.value or "" for p in body.credentials}
    else:
        raise BadRequest("Send 'credentials' to test, or set 'useSavedCredentials' to true.")
    if not credentials.get("BaseAddress"):
        raise BadRequest("The credentials have no BaseAddress (the SCIM endpoint URL).",
                         code="CredentialsValidationFailed")
    check_base_address(credentials["BaseAddress"])  # saved ones too: an older version did not check them
    return credentials


async def check_credentials(credentials: dict[str, str], policy: TargetPolicy = TargetPolicy()) -> None:
    """Entra's "Test connection": the target must answer a filtered /Users query with 200. What
    the target answered is not echoed beyond its status and a SCIM error's short reason."""
    try:
        await asyncio.to_thread(policy.check, credentials["BaseAddress"])
    except TargetNotAllowed as exc:
        raise BadRequest(f"Validating the credentials failed: {exc}", code="CredentialsValidationFailed") from None
    async with ScimClient(credentials["BaseAddress"], credentials.get("SecretToken"), concurrency=1, timeout=15,
                          retry=RetryPolicy(attempts=2, base_delay=0.2)) as client:
        try:
            await client.check_credentials()
        except ScimError as exc:
            reason = ("the target refused the credentials" if exc.credentials
                      else "the target is not reachable" if exc.status is None else "the target answered an error")
            raise BadRequest(f"Validating the credentials failed: {reason} ({exc}).",
                             code="CredentialsValidationFailed") from None


# ------------------------------------------------------------------------------------------------
# Schema

def get_job_schema(ctx: Context, owner: Owner, job_id: str) -> dict[str, Any]:
    return _row(ctx, owner, job_id).schema


def put_job_schema(ctx: Context, owner: Owner, job_id: str, body: SynchronizationSchema) -> None:
    """Full replacement; a changed schema makes the next cycle an initial one."""
    row = _row(ctx, owner, job_id, for_update=True)
    _store_schema(ctx, owner, row, schemas.normalise(body, job_id))


def reset_job_schema(ctx: Context, owner: Owner, job_id: str) -> None:
    row = _row(ctx, owner, job_id, for_update=True)
    schema = copy.deepcopy(templates.get_template_schema(ctx, owner, row.template_id))
    schema["id"] = job_id
    _store_schema(ctx, owner, row, schema)


def set_job_schema(ctx: Context, owner: Owner, job_id: str, schema: dict[str, Any]) -> None:
    _store_schema(ctx, owner, _row(ctx, owner, job_id, for_update=True), schema)


def _store_schema(ctx: Context, owner: Owner, row, schema: dict[str, Any]) -> None:
    state = dict(row.state)
    state["initialCyclePending"] = True
    state["generation"] = state.get("generation", 0) + 1
    _save(ctx, owner, row.id, schema=schema, state=state)


def interval_of(doc: dict[str, Any]) -> timedelta:
    return parse_duration(doc["schedule"]["interval"])
