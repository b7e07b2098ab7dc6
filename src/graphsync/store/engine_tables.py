"""Tables of the provisioning engine: the connector data store (links), escrows, and the
provisioning logs."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Text

from graphsync.store.tables import Document, Time, metadata

sync_links = Table(
    "sync_links", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("object_type", String(16), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("target_id", String(256), nullable=False),
    Column("exported", Document, nullable=False),  # target path → value last written
    Column("updated_at", Time, nullable=False),
)

sync_escrows = Table(
    "sync_escrows", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("object_type", String(16), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("first_failure_at", Time, nullable=False),
    Column("next_attempt_at", Time, nullable=False),
    Column("error_code", String(128), nullable=False),
    Column("error_message", Text, nullable=False),
)

provisioning_logs = Table(
    "provisioning_logs", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("job_id", String(256), nullable=False),
    Column("cycle_id", String(36), nullable=False),
    Column("activity_at", Time, nullable=False),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("doc", JSON, nullable=False),  # json, not jsonb, on PostgreSQL: read whole, never queried inside
    Index("ix_provisioning_logs_time", "tenant_id", "activity_at"),
    Index("ix_provisioning_logs_job", "tenant_id", "job_id", "activity_at"),
)

# Who runs a job's outbound cycle or inbound batches right now (services/leases.py): at most one
# process at a time. A row is claimed with one conditional statement, renewed while the work
# runs, deleted when it ends, and may be taken over once expires_at has passed (a crashed holder).
job_leases = Table(
    "job_leases", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid:claim — unique per claim
    Column("acquired_at", Time, nullable=False),
    Column("expires_at", Time, nullable=False),
    Column("generation", BigInteger, nullable=False, server_default="0"),  # one more at every claim: the fence
)

# The id ranges ("buckets") of a large initial cycle that several workers run at once
# (runtime/tasks.py): only the job's current bucketed cycle has rows.
cycle_buckets = Table(
    "cycle_buckets", metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("job_id", String(256), primary_key=True),
    Column("bucket", Integer, primary_key=True),
    Column("cycle_id", String(36), nullable=False),
    Column("after_id", String(64), nullable=True),  # the bucket's users have ids > after_id …
    Column("upto_id", String(64), nullable=True),  # … and <= upto_id (None: unbounded)
    Column("status", String(16), nullable=False),  # todo | done | failed
    Column("attempts", Integer, nullable=False, server_default="0"),  # runs begun
    Column("imported", Integer, nullable=False, server_default="0"),
    Column("exported", Integer, nullable=False, server_default="0"),
    Column("escrowed", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("error", Document, nullable=True),  # what ended the bucket when it failed (as lastExecution.error)
)
