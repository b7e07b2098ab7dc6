"""PostgreSQL: provisioning log documents as ``json`` rather than ``jsonb``. Logs are written in
bulk (a row per inbound record or exported object) and read back whole; nothing queries inside
them, so converting each to the binary form (~9 µs of server time for a 2.5 KB entry, a third of
its insert) bought nothing. The column keeps its compression. SQLite stores JSON as text either way.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _retype(to: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # a new type resets the column's compression to the default: keep 0006's lz4
    lz4 = bind.exec_driver_sql(
        "SELECT attcompression = 'l' FROM pg_attribute WHERE attrelid = 'provisioning_logs'::regclass "
        "AND attname = 'doc'").scalar()
    op.execute(f"ALTER TABLE provisioning_logs ALTER COLUMN doc TYPE {to} USING doc::{to}"
               + (", ALTER COLUMN doc SET COMPRESSION lz4" if lz4 else ""))


def upgrade() -> None:
    _retype("json")


def downgrade() -> None:
    _retype("jsonb")
