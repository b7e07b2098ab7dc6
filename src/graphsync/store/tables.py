"""The database tables. Graph resources are stored as JSON documents keyed by (tenant, id);
columns outside the document exist only where we look things up or order by them."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, text)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

Document = JSON().with_variant(JSONB(), "postgresql")
Time = DateTime(timezone=True)

tenants = Table(
    "tenants", metadata,
    Column("id", String(36), primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("default_domain", String(256), nullable=False),
    Column("created_at", Time, nullable=False),
)

clients = Table(
    "clients", metadata,
    Column("client_id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False, index=True),
    Column("display_name", String(256), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("roles", Document, nullable=False),
    Column("created_at", Time, nullable=False),
)

signing_keys = Table(
    "signing_keys", metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key", Text, nullable=False),  # PEM, encrypted with the master key
    Column("created_at", Time, nullable=False),
)

applications = Table(
    "applications", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("app_id", String(36), nullable=False),
    Column("doc", Document, nullable=False),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("tenant_id", "app_id", name="uq_applications_app_id"),
)

service_principals = Table(
    "service_principals", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("app_id", String(36), nullable=False),
    Column("doc", Document, nullable=False),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("tenant_id", "app_id", name="uq_service_principals_app_id"),
)

# Secrets of a synchronization (owner = application or service principal id); values encrypted.
sync_secrets = Table(
    "sync_secrets", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("position", Integer, nullable=False),
)

# Templates belong to an application; a service principal sees its application's templates.
sync_templates = Table(
    "sync_templates", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("application_id", String(36), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("doc", Document, nullable=False),
    Column("schema", Document, nullable=False),
    Column("created_at", Time, nullable=False),
)

sync_jobs = Table(
    "sync_jobs", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("owner_id", String(36), primary_key=True),
    Column("id", String(256), primary_key=True),
    Column("template_id", String(128), nullable=False),
    Column("doc", Document, nullable=False),
    Column("schema", Document, nullable=False),
    Column("state", Document, nullable=False),  # engine bookkeeping (watermark, pending resets); never rendered
    Column("created_at", Time, nullable=False),
    # API-driven inbound: the seq of the last staged record the job applied (services/inbound.py)
    Column("applied_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("due_at", Time, nullable=True),  # when the engine should next run the job (services/due.py)
    Index("ix_sync_jobs_due_at", "due_at"),
    Index("ix_sync_jobs_template_lower", text("lower(template_id)")),
)

# ------------------------------------------------------------------------------------------------
# The directory: users, groups, memberships, app role assignments and their ordered change feed.

directory_users = Table(
    "directory_users", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("doc", Document, nullable=False),
    Column("user_principal_name", String(256), nullable=False),  # lower-cased: UPNs are case-insensitive
    Column("manager_id", String(36), nullable=True),
    Column("deleted_at", Time, nullable=True),  # set while soft-deleted
    Column("created_at", Time, nullable=False),
    UniqueConstraint("tenant_id", "user_principal_name", name="uq_directory_users_upn"),
    Index("ix_directory_users_manager", "tenant_id", "manager_id"),
    # /users pages in creation order: without it each page sorted every user (137 ms at 100k)
    Index("ix_directory_users_listed", "tenant_id", "created_at", "id",
          sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
)

directory_groups = Table(
    "directory_groups", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("doc", Document, nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("deleted_at", Time, nullable=True),
    Column("created_at", Time, nullable=False),
    Index("ix_directory_groups_listed", "tenant_id", "created_at", "id",
          sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
)

group_members = Table(
    "group_members", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("group_id", String(36), primary_key=True),
    Column("member_id", String(36), primary_key=True),
    Column("member_type", String(8), nullable=False),  # 'user' | 'group'
    Index("ix_group_members_member", "tenant_id", "member_id"),
)

app_role_assignments = Table(
    "app_role_assignments", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("principal_id", String(36), nullable=False),
    Column("principal_type", String(8), nullable=False),  # 'User' | 'Group'
    Column("resource_id", String(36), nullable=False),  # the service principal
    Column("app_role_id", String(36), nullable=False),
    Column("created_at", Time, nullable=False),
    UniqueConstraint("tenant_id", "principal_id", "resource_id", "app_role_id", name="uq_app_role_assignments"),
    Index("ix_app_role_assignments_resource", "tenant_id", "resource_id"),
)

# Every directory write appends here in its own transaction; seq orders the feed (see
# services/directory.py for why writers of one tenant are serialised).
directory_changes = Table(
    "directory_changes", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), nullable=False),
    Column("object_type", String(8), nullable=False),  # 'user' | 'group'
    Column("object_id", String(36), nullable=False),
    Column("change", String(32), nullable=False),
    Column("at", Time, nullable=False),
    Column("detail", Document, nullable=True),
    Index("ix_directory_changes_tenant_seq", "tenant_id", "seq"),
    sqlite_autoincrement=True,  # never reuse a seq, even after old changes are pruned
)
