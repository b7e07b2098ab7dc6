"""cycle_buckets: the user id ranges of a large initial cycle that several workers run at once
(runtime/tasks.py); only a job's current bucketed cycle has rows.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cycle_buckets",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(256), primary_key=True),
        sa.Column("bucket", sa.Integer(), primary_key=True),
        sa.Column("cycle_id", sa.String(36), nullable=False),
        sa.Column("after_id", sa.String(64), nullable=True),
        sa.Column("upto_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("imported", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("exported", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escrowed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("cycle_buckets")
