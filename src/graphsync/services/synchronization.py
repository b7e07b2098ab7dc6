"""The synchronization entity of an application or service principal, and its secrets.

Secret values are encrypted at rest; sensitive ones are returned as ``"*"`` and never logged.
PUT/PATCH of secrets merge by key; an empty value deletes a key; ``"*"`` means "keep".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, insert, select, update

from graphsync.connectors.addresses import base_address_problem
from graphsync.errors import BadRequest
from graphsync.models import SecretPair, SynchronizationBody
from graphsync.services import applications
from graphsync.services.context import Context
from graphsync.store.tables import sync_secrets

RootKind = Literal["applications", "servicePrincipals"]
MASK = "*"

# Settings that are not secret: returned in clear (as Entra does). Everything else is masked.
NON_SENSITIVE = frozenset({
    "BaseAddress", "SyncAll", "SyncNotificationSettings", "UserName", "Domain", "SkipOutOfScopeDeletions",
    "InstanceName", "Url", "Server", "SandboxName", "Sandbox", "CompanyId", "TokenExpiration", "EnforceDomain",
    "ValidateDomain", "ApplicationTemplateIdentifier", "AuthenticationType", "SystemOfRecord",
    "SynchronizationSchedule", "HardDeletesEnabled", "TestReferences", "PerformInboundEntitlementGrants",
    "UpdateKeyOnSoftDelete", "SingleSignOnType", "Oauth2RedirectUri", "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri", "Oauth2AccessTokenCreationTime", "Oauth2ClientId", "ClientIdentifier",
    "SyncAgentADContainer",
})
BOOLEAN_SETTINGS = ("SyncAll", "SkipOutOfScopeDeletions", "HardDeletesEnabled", "UpdateKeyOnSoftDelete")


@dataclass(frozen=True)
class Owner:
    """The object a synchronization hangs off: an application or a service principal."""

    kind: RootKind
    id: str
    application_id: str  # whose synchronization templates apply
    app_id: str


def resolve_owner(ctx: Context, kind: RootKind, object_id: str) -> Owner:
    if kind == "applications":
        app = applications.get_application(ctx, object_id)
        return Owner(kind, object_id, object_id, app["appId"])
    sp = applications.get_service_principal(ctx, object_id)
    app = applications.find_application_by_app_id(ctx, sp["appId"])
    return Owner(kind, object_id, app["id"] if app else "", sp["appId"])


# ------------------------------------------------------------------------------------------------
# Secrets

def _aad(ctx: Context, owner: Owner, key: str) -> str:
    return f"{ctx.tenant_id}/{owner.id}/{key}"


def read_secrets(ctx: Context, owner: Owner) -> dict[str, str]:
    """Decrypted secrets, for the engine's use only (never rendered)."""
    rows = ctx.conn.execute(select(sync_secrets).where(sync_secrets.c.tenant_id == ctx.tenant_id,
                                                       sync_secrets.c.owner_id == owner.id)
                            .order_by(sync_secrets.c.position)).all()
    return {r.key: ctx.cipher.decrypt(r.value, _aad(ctx, owner, r.key)) for r in rows}


def masked_secrets(ctx: Context, owner: Owner) -> list[dict[str, str]]:
    rows = ctx.conn.execute(select(sync_secrets).where(sync_secrets.c.tenant_id == ctx.tenant_id,
                                                       sync_secrets.c.owner_id == owner.id)
                            .order_by(sync_secrets.c.position)).all()
    return [{"key": r.key,
             "value": ctx.cipher.decrypt(r.value, _aad(ctx, owner, r.key)) if r.key in NON_SENSITIVE else MASK}
            for r in rows]


def count_secrets(ctx: Context, owner: Owner) -> int:
    return ctx.conn.execute(select(func.count()).select_from(sync_secrets).where(
        sync_secrets.c.tenant_id == ctx.tenant_id, sync_secrets.c.owner_id == owner.id)).scalar_one()


def validate_secret(pair: SecretPair) -> None:
    value = pair.value
    if not value or value == MASK:
        return
    if pair.key == "SyncNotificationSettings":
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise BadRequest("SyncNotificationSettings must be a JSON object, e.g. "
                             "'{\"Enabled\":false,\"DeleteThresholdEnabled\":true,\"DeleteThresholdValue\":500}'.",
                             code="InvalidNotificationSettings")
        threshold = parsed.get("DeleteThresholdValue")
        if threshold is not None and (not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 0):
            raise BadRequest("SyncNotificationSettings.DeleteThresholdValue must be a non-negative integer.",
                             code="InvalidNotificationSettings")
    if pair.key == "BaseAddress":
        check_base_address(value)
    if pair.key in BOOLEAN_SETTINGS and value.strip().lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f"The secret '{pair.key}' must be 'True' or 'False'.")
    if pair.key == "None":
        raise BadRequest("'None' is not a valid secret key.")


def check_base_address(address: str) -> None:
    """400 with what is wrong, unless the engine can send SCIM requests to ``address``."""
    problem = base_address_problem(address)
    if problem:
        raise BadRequest(problem)


TOKEN_KEYS = ("SecretToken",)  # credentials that go to BaseAddress with every request


def merge_secrets(ctx: Context, owner: Owner, pairs: list[SecretPair], *, replace: bool = False) -> None:
    """Merge by key (``""`` deletes, ``"*"`` keeps); with ``replace`` keys not sent are removed.

    A new BaseAddress drops the saved SecretToken unless the same request sends one: nobody can
    read a saved token back, so pointing the job at another address must not be a way to have it
    sent there."""
    for pair in pairs:
        validate_secret(pair)
    keys = [p.key for p in pairs]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise BadRequest(f"The secret key(s) {', '.join(sorted(duplicates))} appear more than once.")
    existing = {r.key: r for r in ctx.conn.execute(select(sync_secrets).where(
        sync_secrets.c.tenant_id == ctx.tenant_id, sync_secrets.c.owner_id == owner.id))}
    sent = {p.key: p.value for p in pairs}
    if sent.get("BaseAddress") not in (None, "", MASK) and "BaseAddress" in existing and ctx.cipher.decrypt(
            existing["BaseAddress"].value, _aad(ctx, owner, "BaseAddress")) != sent["BaseAddress"]:
        dropped = [key for key in TOKEN_KEYS if sent.get(key) in (None, MASK)]
        pairs = [p for p in pairs if p.key not in dropped] + [SecretPair(key=key, value="") for key in dropped]
        keys = [p.key for p in pairs]
    for pair in pairs:
        if pair.value == MASK and pair.key not in existing:
            raise BadRequest(f"The secret '{pair.key}' has no stored value to keep; send its real value.")
    where = (sync_secrets.c.tenant_id == ctx.tenant_id) & (sync_secrets.c.owner_id == owner.id)
    if replace:
        gone = set(existing) - set(keys)
        if gone:
            ctx.conn.execute(delete(sync_secrets).where(where, sync_secrets.c.key.in_(gone)))
    position = max((r.position for r in existing.values()), default=-1)
    for pair in pairs:
        if pair.value == MASK:
            continue
        if not pair.value:
            ctx.conn.execute(delete(sync_secrets).where(where, sync_secrets.c.key == pair.key))
            continue
        sealed = ctx.cipher.encrypt(pair.value, _aad(ctx, owner, pair.key))
        if pair.key in existing:
            ctx.conn.execute(update(sync_secrets).where(where, sync_secrets.c.key == pair.key).values(value=sealed))
        else:
            position += 1
            ctx.conn.execute(insert(sync_secrets).values(tenant_id=ctx.tenant_id, owner_id=owner.id, key=pair.key,
                                                         value=sealed, position=position))


# ------------------------------------------------------------------------------------------------
# The synchronization entity

def get_synchronization(ctx: Context, owner: Owner) -> dict:
    return {"id": owner.id, "secrets": masked_secrets(ctx, owner)}


def update_synchronization(ctx: Context, owner: Owner, body: SynchronizationBody, replace: bool) -> dict:
    """PATCH merges secrets by key; PUT replaces the secret set. Jobs and templates have their own
    endpoints and are not written through the synchronization entity."""
    if body.id is not None and body.id != owner.id:
        raise BadRequest(f"The id of a synchronization is that of its owner ('{owner.id}'); it cannot be changed.")
    if body.jobs:
        raise BadRequest("Jobs cannot be written through the synchronization object; use POST .../synchronization/jobs.")
    if body.templates:
        raise BadRequest("Templates cannot be written through the synchronization object; use .../synchronization/templates.")
    if body.secrets is not None or replace:
        merge_secrets(ctx, owner, body.secrets or [], replace=replace)
    return get_synchronization(ctx, owner)


def delete_synchronization(ctx: Context, owner: Owner) -> None:
    """DELETE {root}/synchronization: removes its secrets and jobs (templates stay with the app)."""
    from graphsync.store.tables import sync_jobs
    for table in (sync_jobs, sync_secrets):
        ctx.conn.execute(delete(table).where(table.c.tenant_id == ctx.tenant_id, table.c.owner_id == owner.id))


def ping(ctx: Context, owner: Owner) -> str:
    return "OK"
