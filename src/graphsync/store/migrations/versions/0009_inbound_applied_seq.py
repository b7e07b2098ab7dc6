"""Inbound jobs keep how far they have applied their staged records (``sync_jobs.applied_seq``)
instead of marking each record done: rewriting every applied record (and moving its index entry)
was the largest single statement of an inbound batch, ~20 us a record at 100,000 records.
Records accepted and not failed are now 'received'; those up to their job's applied_seq are
applied. Records marked 'done' before stay so.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_OF_JOB = "r.tenant_id = sync_jobs.tenant_id AND r.job_id = sync_jobs.id"


def upgrade() -> None:
    op.add_column("sync_jobs", sa.Column("applied_seq", sa.BigInteger(), nullable=False, server_default="0"))
    # a job has applied everything before its first pending record (or all of its records)
    op.execute(f"UPDATE sync_jobs SET applied_seq = COALESCE("
               f"(SELECT MIN(r.seq) - 1 FROM inbound_records r WHERE {_OF_JOB} AND r.status = 'pending'), "
               f"(SELECT MAX(r.seq) FROM inbound_records r WHERE {_OF_JOB}), 0)")
    op.execute("UPDATE inbound_records SET status = 'received' WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("UPDATE inbound_records SET status = 'done' WHERE status = 'received' AND seq <= "
               "(SELECT j.applied_seq FROM sync_jobs j WHERE j.tenant_id = inbound_records.tenant_id "
               "AND j.id = inbound_records.job_id)")
    op.execute("UPDATE inbound_records SET status = 'pending' WHERE status = 'received'")
    op.drop_column("sync_jobs", "applied_seq")
