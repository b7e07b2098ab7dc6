"""Tables of API-driven inbound provisioning: the staged records of ``bulkUpload`` requests, the
job's links (source externalId → directory user) and the manager references still waiting for
their manager's record."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, text

from graphsync.store.tables import Document, Time, directory_users, metadata

# One row per operation of an accepted bulk request, written before the 202 is answered. seq
# orders the records of a job as they were received (and committed: services/inbound.py). The
# engine applies records in the same transaction that moves the job's ``applied_seq`` past them
# (or marks them failed), so a record is never lost and never applied twice.
inbound_records = Table(
    "inbound_records", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant_id", String(36), nullable=False),
    Column("job_id", String(256), nullable=False),
    Column("received_at", Time, nullable=False),
    Column("bulk_id", String(256), nullable=False),
    Column("data", Document, nullable=False),  # the operation's SCIM user, as sent
    # 'received' (applied once seq <= the job's applied_seq) | 'failed' | 'done' (applied, before 0009)
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("processed_at", Time, nullable=True),
    Index("ix_inbound_records_job", "tenant_id", "job_id", "status", "seq"),
    sqlite_autoincrement=True,
)

# The job's connector data store: which directory user a source record (by externalId, the
# anchor of the API directory) was matched to or created as. Managers resolve through it.
inbound_links = Table(
    "inbound_links", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("external_id", String(256), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("updated_at", Time, nullable=False),
)

# A worker whose manager (an externalId) the job has not seen yet: resolved when that record
# arrives, in the same transaction that links it.
inbound_references = Table(
    "inbound_references", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("external_id", String(256), primary_key=True),  # the worker
    Column("manager_external_id", String(256), nullable=False),
    Column("recorded_at", Time, nullable=False),
    Index("ix_inbound_references_manager", "tenant_id", "job_id", "manager_external_id"),
)

# Inbound records are matched to directory users on employeeId (the default matching attribute)
# a batch at a time: migration 0004 indexes the expression services/inbound.py queries
# (json_extract on SQLite, ->> on PostgreSQL). Declared here so the metadata describes the database.
Index("ix_directory_users_employee_id", directory_users.c.tenant_id, text("lower(doc ->> 'employeeId')"))
