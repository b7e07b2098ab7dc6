"""API-driven inbound provisioning: staged bulkUpload records, links, pending manager references;
an index for matching directory users on employeeId (the default inbound matching attribute).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

import graphsync.store.inbound_tables  # noqa: F401  (declares the tables and the index below in the metadata)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

doc = sa.JSON().with_variant(JSONB(), "postgresql")
time = sa.DateTime(timezone=True)

# The expression must be spelled exactly as services/inbound.py queries it, or the planner
# cannot use the index.
EMPLOYEE_ID_INDEX = {
    "sqlite": "CREATE INDEX ix_directory_users_employee_id ON directory_users "
              "(tenant_id, lower(json_extract(doc, '$.employeeId')))",
    "postgresql": "CREATE INDEX ix_directory_users_employee_id ON directory_users "
                  "(tenant_id, lower(doc ->> 'employeeId'))",
}


def upgrade() -> None:
    op.create_table(
        "inbound_records",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("job_id", sa.String(256), nullable=False),
        sa.Column("received_at", time, nullable=False),
        sa.Column("bulk_id", sa.String(256), nullable=False),
        sa.Column("data", doc, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("processed_at", time, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbound_records_job", "inbound_records", ["tenant_id", "job_id", "status", "seq"])
    op.create_table(
        "inbound_links",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(256), primary_key=True),
        sa.Column("external_id", sa.String(256), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("updated_at", time, nullable=False),
    )
    op.create_table(
        "inbound_references",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(256), primary_key=True),
        sa.Column("external_id", sa.String(256), primary_key=True),
        sa.Column("manager_external_id", sa.String(256), nullable=False),
        sa.Column("recorded_at", time, nullable=False),
    )
    op.create_index("ix_inbound_references_manager", "inbound_references",
                    ["tenant_id", "job_id", "manager_external_id"])
    statement = EMPLOYEE_ID_INDEX.get(op.get_bind().dialect.name)
    if statement:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name in EMPLOYEE_ID_INDEX:
        op.execute("DROP INDEX ix_directory_users_employee_id")
    op.drop_table("inbound_references")
    op.drop_table("inbound_links")
    op.drop_table("inbound_records")
