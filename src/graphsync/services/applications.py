"""Applications, service principals and application templates (the subset provisioning needs).

As in Entra, instantiating an application template creates an application and its service
principal together; a service principal's synchronization templates are its application's.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update

from graphsync import templates as builtin
from graphsync.errors import BadRequest, Conflict, not_found
from graphsync.models import ApplicationBody, InstantiateBody, ServicePrincipalBody, format_datetime
from graphsync.services import filters
from graphsync.services.context import Context
from graphsync.services.paging import Page
from graphsync.store.tables import applications, service_principals, sync_jobs, sync_secrets, sync_templates


# What $filter accepts (services/filters.py): eq/startswith on these strings, eq on these booleans;
# e.g. the HR-provisioning guides' ``servicePrincipals?$filter=displayName eq '…'`` or ``appId eq``.
APPLICATION_FILTER_STRINGS = ("id", "appId", "displayName", "description", "publisherDomain", "signInAudience",
                              "applicationTemplateId")
SERVICE_PRINCIPAL_FILTER_STRINGS = ("id", "appId", "appDisplayName", "displayName", "description",
                                    "servicePrincipalType")
SERVICE_PRINCIPAL_FILTER_BOOLEANS = ("accountEnabled", "appRoleAssignmentRequired")
APPLICATION_TEMPLATE_FILTER_STRINGS = ("id", "displayName", "publisher", "description")

# ------------------------------------------------------------------------------------------------
# Applications

def create_application(ctx: Context, body: ApplicationBody, application_template_id: str | None = None) -> dict:
    if not body.display_name:
        raise BadRequest("The property 'displayName' is required when creating an application.")
    now = ctx.now()
    app_id = str(uuid.uuid4())
    doc = {
        "id": str(uuid.uuid4()),
        "appId": app_id,
        "displayName": body.display_name,
        "description": body.description,
        "notes": body.notes,
        "signInAudience": body.sign_in_audience or "AzureADMyOrg",
        "tags": body.tags or [],
        "identifierUris": body.identifier_uris or [],
        "web": body.web or {"redirectUris": [], "homePageUrl": None, "logoutUrl": None},
        "createdDateTime": format_datetime(now),
        "publisherDomain": _tenant_domain(ctx),
        "applicationTemplateId": application_template_id,
    }
    ctx.conn.execute(insert(applications).values(tenant_id=ctx.tenant_id, id=doc["id"], app_id=app_id, doc=doc,
                                                 created_at=now))
    template_ids = (builtin.templates_for_application_template(application_template_id)
                    if application_template_id else builtin.default_templates_for_plain_application())
    for index, template_id in enumerate(template_ids):
        _materialise_template(ctx, doc, template_id, default=index == 0)
    return doc


def _materialise_template(ctx: Context, app: dict, template_id: str, default: bool) -> None:
    template = builtin.builtin_template(template_id)
    schema = template.pop("schema")
    template["applicationId"] = app["appId"]
    template["default"] = default
    schema["id"] = f"{template_id}.{'0' * 32}"
    ctx.conn.execute(insert(sync_templates).values(tenant_id=ctx.tenant_id, application_id=app["id"],
                                                   id=template_id, doc=template, schema=schema,
                                                   created_at=ctx.now()))


def _tenant_domain(ctx: Context) -> str:
    from graphsync.services.tenants import get_tenant
    tenant = get_tenant(ctx.conn, ctx.tenant_id)
    return tenant.default_domain if tenant else ""


def get_application(ctx: Context, object_id: str) -> dict:
    row = ctx.conn.execute(select(applications.c.doc).where(applications.c.tenant_id == ctx.tenant_id,
                                                            applications.c.id == object_id)).first()
    if row is None:
        raise not_found("application", object_id)
    return row.doc


def find_application_by_app_id(ctx: Context, app_id: str) -> dict | None:
    row = ctx.conn.execute(select(applications.c.doc).where(applications.c.tenant_id == ctx.tenant_id,
                                                            applications.c.app_id == app_id)).first()
    return row.doc if row else None


def list_applications(ctx: Context, offset: int, limit: int, filter_text: str | None = None) -> Page:
    return _page(ctx, applications, offset, limit,
                 filters.conditions(applications, filter_text, "Application", APPLICATION_FILTER_STRINGS, ()))


def update_application(ctx: Context, object_id: str, body: ApplicationBody) -> None:
    doc = dict(get_application(ctx, object_id))
    changes = body.model_dump(by_alias=True, exclude_unset=True)
    if "displayName" in changes and not changes["displayName"]:
        raise BadRequest("The property 'displayName' cannot be null.")
    doc.update(changes)
    ctx.conn.execute(update(applications).where(applications.c.tenant_id == ctx.tenant_id,
                                                applications.c.id == object_id).values(doc=doc))


def delete_application(ctx: Context, object_id: str) -> None:
    """Deleting an application deletes its service principal and all synchronization state of both."""
    app = get_application(ctx, object_id)
    sp = find_service_principal_by_app_id(ctx, app["appId"])
    if sp is not None:
        delete_service_principal(ctx, sp["id"])
    _delete_synchronization_of(ctx, object_id)
    ctx.conn.execute(delete(sync_templates).where(sync_templates.c.tenant_id == ctx.tenant_id,
                                                  sync_templates.c.application_id == object_id))
    ctx.conn.execute(delete(applications).where(applications.c.tenant_id == ctx.tenant_id,
                                                applications.c.id == object_id))


# ------------------------------------------------------------------------------------------------
# Service principals

def create_service_principal(ctx: Context, body: ServicePrincipalBody) -> dict:
    if not body.app_id:
        raise BadRequest("The property 'appId' is required when creating a service principal.")
    app = find_application_by_app_id(ctx, body.app_id)
    if app is None:
        raise BadRequest(f"The appId '{body.app_id}' of the service principal does not reference a valid application object.")
    if find_service_principal_by_app_id(ctx, body.app_id) is not None:
        raise Conflict(f"A service principal for the application with appId '{body.app_id}' already exists.")
    now = ctx.now()
    doc = {
        "id": str(uuid.uuid4()),
        "appId": app["appId"],
        "appDisplayName": app["displayName"],
        "displayName": body.display_name or app["displayName"],
        "accountEnabled": True if body.account_enabled is None else body.account_enabled,
        "appRoleAssignmentRequired": bool(body.app_role_assignment_required),
        "servicePrincipalType": "Application",
        "description": body.description,
        "notes": body.notes,
        "tags": body.tags or [],
        "preferredSingleSignOnMode": body.preferred_single_sign_on_mode,
        "applicationTemplateId": app.get("applicationTemplateId"),
        "appOwnerOrganizationId": ctx.tenant_id,
        "servicePrincipalNames": [app["appId"]],
        "createdDateTime": format_datetime(now),
    }
    ctx.conn.execute(insert(service_principals).values(tenant_id=ctx.tenant_id, id=doc["id"], app_id=doc["appId"],
                                                       doc=doc, created_at=now))
    return doc


def get_service_principal(ctx: Context, object_id: str) -> dict:
    doc = find_service_principal(ctx, object_id)
    if doc is None:
        raise not_found("servicePrincipal", object_id)
    return doc


def find_service_principal(ctx: Context, object_id: str) -> dict | None:
    row = ctx.conn.execute(select(service_principals.c.doc).where(service_principals.c.tenant_id == ctx.tenant_id,
                                                                  service_principals.c.id == object_id)).first()
    return row.doc if row else None


def find_service_principal_by_app_id(ctx: Context, app_id: str) -> dict | None:
    row = ctx.conn.execute(select(service_principals.c.doc).where(service_principals.c.tenant_id == ctx.tenant_id,
                                                                  service_principals.c.app_id == app_id)).first()
    return row.doc if row else None


def list_service_principals(ctx: Context, offset: int, limit: int, filter_text: str | None = None) -> Page:
    return _page(ctx, service_principals, offset, limit,
                 filters.conditions(service_principals, filter_text, "ServicePrincipal",
                                    SERVICE_PRINCIPAL_FILTER_STRINGS, SERVICE_PRINCIPAL_FILTER_BOOLEANS))


def update_service_principal(ctx: Context, object_id: str, body: ServicePrincipalBody) -> None:
    doc = dict(get_service_principal(ctx, object_id))
    changes = body.model_dump(by_alias=True, exclude_unset=True)
    if "appId" in changes and changes["appId"] != doc["appId"]:
        raise BadRequest("The property 'appId' of a service principal is read-only.")
    doc.update(changes)
    ctx.conn.execute(update(service_principals).where(service_principals.c.tenant_id == ctx.tenant_id,
                                                      service_principals.c.id == object_id).values(doc=doc))


def delete_service_principal(ctx: Context, object_id: str) -> None:
    from graphsync.services.directory import delete_assignments_to  # directory imports this module
    get_service_principal(ctx, object_id)
    delete_assignments_to(ctx, object_id)
    _delete_synchronization_of(ctx, object_id)
    ctx.conn.execute(delete(service_principals).where(service_principals.c.tenant_id == ctx.tenant_id,
                                                      service_principals.c.id == object_id))


def _delete_synchronization_of(ctx: Context, owner_id: str) -> None:
    for table in (sync_jobs, sync_secrets):
        ctx.conn.execute(delete(table).where(table.c.tenant_id == ctx.tenant_id, table.c.owner_id == owner_id))


# ------------------------------------------------------------------------------------------------
# Application templates

def list_application_templates(filter_text: str | None = None) -> list[dict[str, Any]]:
    return filters.matching(builtin.application_templates(), filter_text, "ApplicationTemplate",
                            APPLICATION_TEMPLATE_FILTER_STRINGS, ())


def get_application_template(template_id: str) -> dict[str, Any]:
    template = builtin.application_template(template_id)
    if template is None:
        raise not_found("applicationTemplate", template_id)
    return template


def instantiate(ctx: Context, template_id: str, body: InstantiateBody) -> dict[str, Any]:
    """POST /applicationTemplates/{id}/instantiate: an application and its service principal."""
    get_application_template(template_id)
    app = create_application(ctx, ApplicationBody(display_name=body.display_name), template_id)
    sp = create_service_principal(ctx, ServicePrincipalBody(app_id=app["appId"]))
    return {"application": app, "servicePrincipal": sp}


def _page(ctx: Context, table, offset: int, limit: int, conditions: list) -> Page:
    where = and_(table.c.tenant_id == ctx.tenant_id, *conditions)
    total = ctx.conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
    rows = ctx.conn.execute(select(table.c.doc).where(where).order_by(table.c.created_at, table.c.id)
                            .offset(offset).limit(limit)).all()
    next_offset = offset + limit if offset + limit < total else None
    return Page([r.doc for r in rows], total, next_offset)
