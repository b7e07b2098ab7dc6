"""Job leases: at most one process runs a job's outbound cycle or inbound batches at a time.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(256), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", time, nullable=False),
        sa.Column("expires_at", time, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
