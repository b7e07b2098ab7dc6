"""Tenants and the OAuth clients that act in them."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from graphsync.errors import BadRequest, NotFound
from graphsync.store.tables import clients, tenants

# Graph application permissions graphsync understands (app roles in the access token).
KNOWN_ROLES = (
    "Synchronization.Read.All",
    "Synchronization.ReadWrite.All",
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "SynchronizationData-User.Upload",
    "AuditLog.Read.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "ProvisioningLog.Read.All",
)
ADMIN_ROLES = tuple(r for r in KNOWN_ROLES if r != "Application.ReadWrite.OwnedBy")


@dataclass(frozen=True)
class Tenant:
    id: str
    display_name: str
    default_domain: str


@dataclass(frozen=True)
class Client:
    client_id: str
    tenant_id: str
    display_name: str
    roles: tuple[str, ...]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_tenant(conn: Connection, now: datetime, display_name: str, default_domain: str | None = None,
                  tenant_id: str | None = None) -> Tenant:
    tenant_id = tenant_id or str(uuid.uuid4())
    _check_guid(tenant_id, "tenant id")
    domain = default_domain or f"{tenant_id.split('-')[0]}.graphsync.local"
    conn.execute(insert(tenants).values(id=tenant_id, display_name=display_name, default_domain=domain,
                                        created_at=now))
    return Tenant(tenant_id, display_name, domain)


def get_tenant(conn: Connection, key: str) -> Tenant | None:
    """A tenant by id or by its default domain (the token endpoint accepts both, as Entra does)."""
    row = conn.execute(select(tenants).where((tenants.c.id == key) | (tenants.c.default_domain == key))).first()
    return Tenant(row.id, row.display_name, row.default_domain) if row else None


def list_tenants(conn: Connection) -> list[Tenant]:
    rows = conn.execute(select(tenants).order_by(tenants.c.created_at)).all()
    return [Tenant(r.id, r.display_name, r.default_domain) for r in rows]


def create_client(conn: Connection, now: datetime, tenant_id: str, display_name: str,
                  roles: list[str] | tuple[str, ...]) -> tuple[Client, str]:
    """A confidential client; returns it with its secret, which is stored only as a hash."""
    if get_tenant(conn, tenant_id) is None:
        raise NotFound(f"Tenant '{tenant_id}' does not exist.")
    roles = _check_roles(roles)
    client_id = str(uuid.uuid4())
    secret = secrets.token_urlsafe(32)
    conn.execute(insert(clients).values(client_id=client_id, tenant_id=tenant_id, display_name=display_name,
                                        secret_hash=_hash(secret), roles=list(roles), created_at=now))
    return Client(client_id, tenant_id, display_name, tuple(roles)), secret


def set_client_roles(conn: Connection, client_id: str, roles: list[str]) -> Client:
    roles = _check_roles(roles)
    if conn.execute(update(clients).where(clients.c.client_id == client_id).values(roles=list(roles))).rowcount == 0:
        raise NotFound(f"Client '{client_id}' does not exist.")
    return get_client(conn, client_id)  # type: ignore[return-value]


def get_client(conn: Connection, client_id: str) -> Client | None:
    row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
    return Client(row.client_id, row.tenant_id, row.display_name, tuple(row.roles)) if row else None


def list_clients(conn: Connection, tenant_id: str | None = None) -> list[Client]:
    query = select(clients).order_by(clients.c.created_at)
    if tenant_id:
        query = query.where(clients.c.tenant_id == tenant_id)
    return [Client(r.client_id, r.tenant_id, r.display_name, tuple(r.roles)) for r in conn.execute(query)]


def delete_client(conn: Connection, client_id: str) -> None:
    if conn.execute(delete(clients).where(clients.c.client_id == client_id)).rowcount == 0:
        raise NotFound(f"Client '{client_id}' does not exist.")


def authenticate_client(conn: Connection, tenant_id: str, client_id: str, secret: str) -> Client | None:
    row = conn.execute(select(clients).where(clients.c.client_id == client_id,
                                             clients.c.tenant_id == tenant_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Client(row.client_id, row.tenant_id, row.display_name, tuple(row.roles))


def _check_roles(roles) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in KNOWN_ROLES]
    if unknown:
        raise BadRequest(f"Unknown permission(s): {', '.join(unknown)}. Known: {', '.join(KNOWN_ROLES)}.")
    return tuple(dict.fromkeys(roles))


def _check_guid(value: str, what: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise BadRequest(f"The {what} '{value}' is not a GUID.") from None
