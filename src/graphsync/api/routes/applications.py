"""Routes for applications, service principals and application templates."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from graphsync.api.auth import APP_READ, APP_WRITE, allow
from graphsync.api.common import call, check_version, limit, no_content, ok
from graphsync.api.http import read_json
from graphsync.api.odata import collection, entity, paged, parse_query
from graphsync.models import ApplicationBody, InstantiateBody, ServicePrincipalBody
from graphsync.services import applications as apps

router = APIRouter(prefix="/{version}", dependencies=[Depends(check_version)], tags=["applications"])
reader, writer = allow(*APP_READ), allow(*APP_WRITE)


@router.get("/applications")
async def list_applications(request: Request, principal=Depends(reader)):
    query = parse_query(request, filterable=True)
    page = await call(request, principal, apps.list_applications, query.offset, query.top, query.filter)
    return ok(collection(request, page, "applications", query))


@router.post("/applications")
async def create_application(request: Request, principal=Depends(writer)):
    body = await read_json(request, ApplicationBody, limit(request))
    doc = await call(request, principal, apps.create_application, body)
    return ok(entity(request, doc, "applications/$entity"), status=201)


@router.get("/applications/{object_id}")
async def get_application(request: Request, object_id: str, principal=Depends(reader)):
    query = parse_query(request, collection=False)
    doc = await call(request, principal, apps.get_application, object_id)
    return ok(entity(request, doc, "applications/$entity", query))


@router.patch("/applications/{object_id}")
async def update_application(request: Request, object_id: str, principal=Depends(writer)):
    body = await read_json(request, ApplicationBody, limit(request))
    await call(request, principal, apps.update_application, object_id, body)
    return no_content()


@router.delete("/applications/{object_id}")
async def delete_application(request: Request, object_id: str, principal=Depends(writer)):
    await call(request, principal, apps.delete_application, object_id)
    return no_content()


@router.get("/servicePrincipals")
async def list_service_principals(request: Request, principal=Depends(reader)):
    query = parse_query(request, filterable=True)
    page = await call(request, principal, apps.list_service_principals, query.offset, query.top, query.filter)
    return ok(collection(request, page, "servicePrincipals", query))


@router.post("/servicePrincipals")
async def create_service_principal(request: Request, principal=Depends(writer)):
    body = await read_json(request, ServicePrincipalBody, limit(request))
    doc = await call(request, principal, apps.create_service_principal, body)
    return ok(entity(request, doc, "servicePrincipals/$entity"), status=201)


@router.get("/servicePrincipals/{object_id}")
async def get_service_principal(request: Request, object_id: str, principal=Depends(reader)):
    query = parse_query(request, collection=False)
    doc = await call(request, principal, apps.get_service_principal, object_id)
    return ok(entity(request, doc, "servicePrincipals/$entity", query))


@router.patch("/servicePrincipals/{object_id}")
async def update_service_principal(request: Request, object_id: str, principal=Depends(writer)):
    body = await read_json(request, ServicePrincipalBody, limit(request))
    await call(request, principal, apps.update_service_principal, object_id, body)
    return no_content()


@router.delete("/servicePrincipals/{object_id}")
async def delete_service_principal(request: Request, object_id: str, principal=Depends(writer)):
    await call(request, principal, apps.delete_service_principal, object_id)
    return no_content()


@router.get("/applicationTemplates")
async def list_application_templates(request: Request, principal=Depends(reader)):
    query = parse_query(request, filterable=True)
    templates = apps.list_application_templates(query.filter)
    return ok(collection(request, paged(templates, query), "applicationTemplates", query))


@router.get("/applicationTemplates/{template_id}")
async def get_application_template(request: Request, template_id: str, principal=Depends(reader)):
    query = parse_query(request, collection=False)
    return ok(entity(request, apps.get_application_template(template_id), "applicationTemplates/$entity", query))


@router.post("/applicationTemplates/{template_id}/instantiate")
async def instantiate(request: Request, template_id: str, principal=Depends(writer)):
    body = await read_json(request, InstantiateBody, limit(request))
    result = await call(request, principal, apps.instantiate, template_id, body)
    return ok(entity(request, result, "microsoft.graph.applicationServicePrincipal"), status=201)
