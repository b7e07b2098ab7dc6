"""Settings, read from the environment with the ``GRAPHSYNC_`` prefix (or a ``.env`` file)."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MEMORY_URL = "memory"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRAPHSYNC_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty = SQLite file under data_dir; 'memory' = throw-away in-memory store.",
    )
    public_url: str = Field(default="", description="Base URL clients use; defaults to http://host:port.")
    trusted_hosts: str = Field(default="", description="Without public_url: Host headers (host or host:port, "
                                                       "comma-separated) that links may be built from, beside "
                                                       "host:port and localhost.")
    secret_key: str = Field(default="", description="Base64 AES-256 key for secrets at rest; else a key file in data_dir.")
    max_body_bytes: int = 4 * 1024 * 1024
    token_lifetime_seconds: int = 3600
    token_audience: str = "https://graph.microsoft.com"
    default_tenant_id: str = "00000000-0000-0000-0000-000000000001"
    default_tenant_domain: str = "graphsync.local"
    emulator: bool = Field(default=False, description="Enable the unauthenticated tenant factory for tests.")
    schema_patch: Literal["replace", "reject"] = Field(
        default="replace",
        description="PATCH on a schema (what the SDK sends): 'replace' = same as PUT; 'reject' = 404 like Entra.",
    )
    engine: bool = Field(default=True, description="Run provisioning cycles in this process (serve --no-engine: "
                                                   "API only, 'graphsync worker' processes run them).")
    engine_poll_seconds: float = 1.0
    engine_executor: Literal["auto", "poll", "tasks"] = Field(
        default="auto", description="How the engine finds its work: 'tasks' = procrastinate tasks woken by "
                                    "LISTEN/NOTIFY (PostgreSQL only), 'poll' = a scan of due jobs every "
                                    "ENGINE_POLL_SECONDS; 'auto' = tasks on PostgreSQL, poll on SQLite.")
    engine_concurrency: int = Field(default=4, ge=1, description="Jobs one process runs at a time (tasks executor).")
    lease_seconds: float = Field(default=60.0, gt=0, description="Lifetime of a job lease: a job whose process "
                                                               "died is taken over this long after its last renewal.")
    log_retention_days: int = Field(default=30, description="Provisioning logs older than this are purged.")
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    log_level: str = "info"
    metrics: bool = Field(default=True, description="Serve Prometheus metrics at GET /metrics (counts only, no "
                                                    "tenant data).")
    metrics_token: str = Field(default="", description="When set, /metrics (and worker --metrics-port) need "
                                                       "'Authorization: Bearer <this>'.")
    target_networks_allowed: str = Field(default="", description="SCIM targets only in these networks (CIDRs, "
                                                                   "comma-separated); empty = anywhere.")
    target_networks_denied: str = Field(default="", description="SCIM targets never in these networks (CIDRs, "
                                                                  "comma-separated), e.g. 169.254.0.0/16.")

    @field_validator("target_networks_allowed", "target_networks_denied")
    @classmethod
    def _networks(cls, value: str) -> str:
        from graphsync.connectors.target_policy import parse_networks
        parse_networks(value)  # a typo stops the start, not a cycle
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url == MEMORY_URL:
            return "sqlite://"
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'graphsync.db').as_posix()}"

    @property
    def in_memory(self) -> bool:
        return self.resolved_database_url == "sqlite://"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
