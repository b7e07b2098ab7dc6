"""Synchronization templates: the built-ins of an application's factory tag plus custom ones.

Templates belong to the application; a service principal sees (and edits) its application's.
"""
from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from graphsync import templates as builtin
from graphsync.errors import BadRequest, Conflict, not_found
from graphsync.models import V1_METADATA_KEYS, SynchronizationSchema, TemplateBody
from graphsync.services import schema as schemas
from graphsync.services.context import Context
from graphsync.services.paging import Page
from graphsync.services.synchronization import Owner
from graphsync.store.tables import sync_templates


def _where(ctx: Context, owner: Owner):
    return (sync_templates.c.tenant_id == ctx.tenant_id) & (sync_templates.c.application_id == owner.application_id)


def _render(row, expand_schema: bool) -> dict[str, Any]:
    doc = dict(row.doc)
    doc["id"] = row.id
    if expand_schema:
        doc["schema"] = row.schema
    return doc


def list_templates(ctx: Context, owner: Owner, offset: int, limit: int, expand_schema: bool = False) -> Page:
    where = _where(ctx, owner)
    total = ctx.conn.execute(select(func.count()).select_from(sync_templates).where(where)).scalar_one()
    rows = ctx.conn.execute(select(sync_templates).where(where)
                            .order_by(sync_templates.c.created_at, sync_templates.c.id).offset(offset).limit(limit))
    next_offset = offset + limit if offset + limit < total else None
    return Page([_render(r, expand_schema) for r in rows], total, next_offset)


def _row(ctx: Context, owner: Owner, template_id: str):
    row = ctx.conn.execute(select(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id)).first()
    if row is None:
        raise not_found("synchronizationTemplate", template_id)
    return row


def get_template(ctx: Context, owner: Owner, template_id: str, expand_schema: bool = False) -> dict[str, Any]:
    return _render(_row(ctx, owner, template_id), expand_schema)


def template_exists(ctx: Context, owner: Owner, template_id: str) -> bool:
    return ctx.conn.execute(select(sync_templates.c.id).where(
        _where(ctx, owner), sync_templates.c.id == template_id)).first() is not None


def _entity(body: TemplateBody, owner: Owner, template_id: str) -> dict[str, Any]:
    return {
        "applicationId": owner.app_id,
        "default": bool(body.default),
        "description": body.description,
        "discoverable": True if body.discoverable is None else body.discoverable,
        "factoryTag": body.factory_tag,
        "metadata": [{**m.dump(), "key": _v1_key(m.key)} for m in body.metadata or []],
    }


def _v1_key(key: str | None) -> str | None:
    """Metadata keys are stored in their v1.0 spelling; beta's camelCase is accepted on input."""
    if not key:
        return key
    return next((k for k in V1_METADATA_KEYS if k.lower() == key.lower()), key)


def default_schema(factory_tag: str | None, template_id: str) -> dict[str, Any]:
    """The schema a template resets to: the built-in one of its factory tag, else an empty one."""
    base = next((t for t in builtin.builtin_templates().values() if t.get("factoryTag") == factory_tag), None)
    schema = copy.deepcopy(base["schema"]) if base else {"directories": [], "synchronizationRules": []}
    schema["id"] = f"{template_id}.{'0' * 32}"
    schema.setdefault("version", None)
    return schema


def create_template(ctx: Context, owner: Owner, body: TemplateBody) -> dict[str, Any]:
    template_id = body.id or ""
    if not template_id.strip():
        raise BadRequest("The property 'id' is required when creating a synchronization template.")
    if len(template_id) > 128 or "/" in template_id:
        raise BadRequest("The id of a synchronization template must be at most 128 characters without '/'.")
    if template_exists(ctx, owner, template_id):
        raise Conflict(f"A synchronization template with id '{template_id}' already exists.")
    schema_id = f"{template_id}.{'0' * 32}"
    schema = (schemas.normalise(body.schema_, schema_id) if body.schema_ is not None
              else default_schema(body.factory_tag, template_id))
    ctx.conn.execute(insert(sync_templates).values(tenant_id=ctx.tenant_id, application_id=owner.application_id,
                                                   id=template_id, doc=_entity(body, owner, template_id),
                                                   schema=schema, created_at=ctx.now()))
    return get_template(ctx, owner, template_id)


def replace_template(ctx: Context, owner: Owner, template_id: str, body: TemplateBody) -> None:
    """PATCH/PUT a template: the docs' full replacement ("missing properties will be erased");
    the schema is replaced only when one is sent."""
    row = _row(ctx, owner, template_id)
    if body.id is not None and body.id != template_id:
        raise BadRequest("The id of a synchronization template cannot be changed.")
    values: dict[str, Any] = {"doc": _entity(body, owner, template_id)}
    if body.schema_ is not None:
        values["schema"] = schemas.normalise(body.schema_, row.schema.get("id") or f"{template_id}.{'0' * 32}")
    ctx.conn.execute(update(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id)
                     .values(**values))


def delete_template(ctx: Context, owner: Owner, template_id: str) -> None:
    _row(ctx, owner, template_id)
    ctx.conn.execute(delete(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id))


def get_template_schema(ctx: Context, owner: Owner, template_id: str) -> dict[str, Any]:
    return _row(ctx, owner, template_id).schema


def put_template_schema(ctx: Context, owner: Owner, template_id: str, body: SynchronizationSchema) -> None:
    row = _row(ctx, owner, template_id)
    schema = schemas.normalise(body, row.schema.get("id") or f"{template_id}.{'0' * 32}")
    ctx.conn.execute(update(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id)
                     .values(schema=schema))


def reset_template_schema(ctx: Context, owner: Owner, template_id: str) -> None:
    row = _row(ctx, owner, template_id)
    ctx.conn.execute(update(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id)
                     .values(schema=default_schema(row.doc.get("factoryTag"), template_id)))


def set_template_schema(ctx: Context, owner: Owner, template_id: str, schema: dict[str, Any]) -> None:
    _row(ctx, owner, template_id)
    ctx.conn.execute(update(sync_templates).where(_where(ctx, owner), sync_templates.c.id == template_id)
                     .values(schema=schema))
