"""Provisioning engine state: connector data store, escrows, provisioning logs.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

doc = sa.JSON().with_variant(JSONB(), "postgresql")
time = sa.DateTime(timezone=True)


def _key():
    return [sa.Column("tenant_id", sa.String(36), primary_key=True),
            sa.Column("job_id", sa.String(256), primary_key=True),
            sa.Column("object_type", sa.String(16), primary_key=True),
            sa.Column("source_id", sa.String(64), primary_key=True)]


def upgrade() -> None:
    op.create_table(
        "sync_links", *_key(),
        sa.Column("target_id", sa.String(256), nullable=False),
        sa.Column("exported", doc, nullable=False),
        sa.Column("updated_at", time, nullable=False),
    )
    op.create_table(
        "sync_escrows", *_key(),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_failure_at", time, nullable=False),
        sa.Column("next_attempt_at", time, nullable=False),
        sa.Column("error_code", sa.String(128), nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
    )
    op.create_table(
        "provisioning_logs",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(256), nullable=False),
        sa.Column("cycle_id", sa.String(36), nullable=False),
        sa.Column("activity_at", time, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("doc", doc, nullable=False),
    )
    op.create_index("ix_provisioning_logs_time", "provisioning_logs", ["tenant_id", "activity_at"])
    op.create_index("ix_provisioning_logs_job", "provisioning_logs", ["tenant_id", "job_id", "activity_at"])


def downgrade() -> None:
    op.drop_table("provisioning_logs")
    op.drop_table("sync_escrows")
    op.drop_table("sync_links")
