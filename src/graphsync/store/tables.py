"""The database tables. Graph resources are stored as JSON documents keyed by (tenant, id);
columns outside the document exist only where we look things up or order by them."""
from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, Text, UniqueConstraint
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
)
