"""Jobs carry when they next need the engine (``sync_jobs.due_at``, indexed), and an index on the
lower-cased template id finds the inbound jobs: the engine's poll becomes two index probes instead
of reading every job with its documents (services/due.py).

Revision ID: 0011
Revises: 0010
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_DUE_NOW = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _due_at(template_id, doc, state):
    # services/due.py as of this revision (a migration must not change with the code)
    if ((doc or {}).get("schedule") or {}).get("state") != "Active":
        return None
    state = state or {}
    if template_id in ("scim", "customappsso"):
        if state.get("runRequested"):
            return _DUE_NOW
        if state.get("nextRunAt"):
            return datetime.fromisoformat(state["nextRunAt"])
        return _DUE_NOW if "watermark" not in state else None
    if template_id.casefold() == "api2aad":
        return _DUE_NOW if state.get("runRequested") or state.get("resets") or state.get("inboundCycle") else None
    return None


def upgrade() -> None:
    op.add_column("sync_jobs", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sync_jobs_due_at", "sync_jobs", ["due_at"])
    op.create_index("ix_sync_jobs_template_lower", "sync_jobs", [sa.text("lower(template_id)")])
    connection = op.get_bind()
    jobs = sa.table("sync_jobs", sa.column("tenant_id"), sa.column("owner_id"), sa.column("id"),
                    sa.column("template_id"), sa.column("doc"), sa.column("state"),
                    sa.column("due_at", sa.DateTime(timezone=True)))
    for row in connection.execute(sa.select(jobs.c.tenant_id, jobs.c.owner_id, jobs.c.id, jobs.c.template_id,
                                            jobs.c.doc, jobs.c.state)).all():
        doc, state = (json.loads(v) if isinstance(v, str) else v for v in (row.doc, row.state))
        due = _due_at(row.template_id, doc, state)
        if due is not None:
            connection.execute(sa.update(jobs).where(jobs.c.tenant_id == row.tenant_id, jobs.c.owner_id == row.owner_id,
                                                     jobs.c.id == row.id).values(due_at=due))


def downgrade() -> None:
    op.drop_index("ix_sync_jobs_template_lower", "sync_jobs")
    op.drop_index("ix_sync_jobs_due_at", "sync_jobs")
    op.drop_column("sync_jobs", "due_at")
