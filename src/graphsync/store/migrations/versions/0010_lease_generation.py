"""Job leases carry a generation, one more at every claim of the job: the fencing token a holder's
writes are checked against, so a process that lost its lease (paused past its expiry, cut off from
the database) and wakes up cannot write over the work of the holder that took the job over.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_leases", sa.Column("generation", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("job_leases", "generation")
