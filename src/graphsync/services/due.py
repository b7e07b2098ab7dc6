"""When a job next needs the engine: ``sync_jobs.due_at``, derived from the job's document and
engine state and written beside them whenever they change.

The engine finds its work with an index probe (``due_at <= now``) instead of reading every job and
its documents each second: an idle server with 10,000 never-started jobs spent 29 % of a core on
that scan. NULL means nothing to do until the job changes (never started, paused, disabled).
Staged bulkUpload records are not written here (their requests would wait on the job row while
an inbound batch holds it): inbound jobs with records to apply are found by their own indexed
query (services/inbound.py ``inbound_jobs``)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

OUTBOUND_TEMPLATES = ("scim", "customappsso")
INBOUND_TEMPLATES = ("api2aad",)
DUE_NOW = datetime(2000, 1, 1, tzinfo=timezone.utc)  # before any real time: due at once, first in line


def is_outbound(template_id: str) -> bool:
    return template_id in OUTBOUND_TEMPLATES


def is_inbound(template_id: str) -> bool:
    return template_id.casefold() in INBOUND_TEMPLATES


def due_at(template_id: str, doc: dict[str, Any], state: dict[str, Any] | None) -> datetime | None:
    """The job's next turn: ``DUE_NOW`` when start/restart asked for one (or an active outbound
    job never ran), its scheduled next cycle, or None."""
    if doc["schedule"]["state"] != "Active":
        return None
    state = state or {}
    if is_outbound(template_id):
        if state.get("runRequested") or state.get("bucketedCycle"):  # (a bucketed cycle: see to its buckets)
            return DUE_NOW
        next_run = state.get("nextRunAt")
        if next_run:  # scheduled after a cycle (failed ones too: a quarantined job waits a day)
            return datetime.fromisoformat(next_run)
        return DUE_NOW if "watermark" not in state else None
    if is_inbound(template_id):
        return DUE_NOW if state.get("runRequested") or state.get("resets") or state.get("inboundCycle") else None
    return None
