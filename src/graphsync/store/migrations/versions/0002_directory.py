"""The directory: users, groups, group members, app role assignments and the change feed.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

doc = sa.JSON().with_variant(JSONB(), "postgresql")
time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "directory_users",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doc", doc, nullable=False),
        sa.Column("user_principal_name", sa.String(256), nullable=False),
        sa.Column("manager_id", sa.String(36), nullable=True),
        sa.Column("deleted_at", time, nullable=True),
        sa.Column("created_at", time, nullable=False),
        sa.UniqueConstraint("tenant_id", "user_principal_name", name="uq_directory_users_upn"),
    )
    op.create_index("ix_directory_users_manager", "directory_users", ["tenant_id", "manager_id"])
    op.create_table(
        "directory_groups",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doc", doc, nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("deleted_at", time, nullable=True),
        sa.Column("created_at", time, nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("group_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("member_type", sa.String(8), nullable=False),
    )
    op.create_index("ix_group_members_member", "group_members", ["tenant_id", "member_id"])
    op.create_table(
        "app_role_assignments",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("principal_id", sa.String(36), nullable=False),
        sa.Column("principal_type", sa.String(8), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("app_role_id", sa.String(36), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.UniqueConstraint("tenant_id", "principal_id", "resource_id", "app_role_id", name="uq_app_role_assignments"),
    )
    op.create_index("ix_app_role_assignments_resource", "app_role_assignments", ["tenant_id", "resource_id"])
    op.create_table(
        "directory_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("object_type", sa.String(8), nullable=False),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("at", time, nullable=False),
        sa.Column("detail", doc, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_directory_changes_tenant_seq", "directory_changes", ["tenant_id", "seq"])


def downgrade() -> None:
    for name in ("directory_changes", "app_role_assignments", "group_members", "directory_groups", "directory_users"):
        op.drop_table(name)
