"""PostgreSQL: lz4 for the documents large enough to be compressed (provisioning logs, staged
inbound records, user documents). pglz, the default, cost about as much as the rest of writing a
provisioning log row during bulk inbound; lz4 is several times faster. Rows written before keep
their compression. Servers built without lz4 keep pglz; SQLite has no such setting.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (("provisioning_logs", "doc"), ("inbound_records", "data"), ("directory_users", "doc"))


def _lz4_available(bind) -> bool:
    return bool(bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").scalar())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _lz4_available(bind):
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION pglz")
