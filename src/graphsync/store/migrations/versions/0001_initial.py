"""Initial schema: tenants, clients, signing keys, applications, service principals, synchronization.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

doc = sa.JSON().with_variant(JSONB(), "postgresql")
time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("default_domain", sa.String(256), nullable=False),
        sa.Column("created_at", time, nullable=False),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("roles", doc, nullable=False),
        sa.Column("created_at", time, nullable=False),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_key", sa.Text, nullable=False),
        sa.Column("created_at", time, nullable=False),
    )
    for name in ("applications", "service_principals"):
        op.create_table(
            name,
            sa.Column("tenant_id", sa.String(36), primary_key=True),
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("app_id", sa.String(36), nullable=False),
            sa.Column("doc", doc, nullable=False),
            sa.Column("created_at", time, nullable=False),
            sa.UniqueConstraint("tenant_id", "app_id", name=f"uq_{name}_app_id"),
        )
    op.create_table(
        "sync_secrets",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "sync_templates",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("application_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("doc", doc, nullable=False),
        sa.Column("schema", doc, nullable=False),
        sa.Column("created_at", time, nullable=False),
    )
    op.create_table(
        "sync_jobs",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("template_id", sa.String(128), nullable=False),
        sa.Column("doc", doc, nullable=False),
        sa.Column("schema", doc, nullable=False),
        sa.Column("state", doc, nullable=False),
        sa.Column("created_at", time, nullable=False),
    )


def downgrade() -> None:
    for name in ("sync_jobs", "sync_templates", "sync_secrets", "service_principals", "applications",
                 "signing_keys", "clients", "tenants"):
        op.drop_table(name)
