"""Routes under ``…/synchronization/{jobs|templates}/{id}/schema``: the schema itself, its
directory definitions, the function and operator tables, and parseExpression."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from graphsync import expressions
from graphsync.api.auth import DISCOVER, SYNC_READ, SYNC_WRITE, allow
from graphsync.api.common import call_owned, check_version, limit, no_content, ok
from graphsync.api.http import read_json
from graphsync.api.odata import collection, entity, paged, parse_query
from graphsync.errors import NotFound
from graphsync.models import DirectoryDefinition, DirectoryDefinitionUpdate, ParseExpressionBody, SynchronizationSchema
from graphsync.services import parse_expression as parse_service
from graphsync.services import schemas_of


def build(root: str) -> APIRouter:
    router = APIRouter(prefix=f"/{{version}}/{root}/{{owner_id}}/synchronization/{{parent}}/{{parent_id}}/schema",
                       dependencies=[Depends(check_version)], tags=[f"{root} synchronization schema"])
    reader, writer, discoverer = allow(*SYNC_READ), allow(*SYNC_WRITE), allow(*DISCOVER)

    def here(owner_id: str, parent: str, parent_id: str, tail: str = "") -> str:
        return f"{root}('{owner_id}')/synchronization/{parent}('{parent_id}')/schema{tail}"

    def schema_owner(parent: str):
        if parent not in ("jobs", "templates"):
            raise NotFound(f"No HTTP resource was found for '{parent}'.", code="UnknownError")
        return parent

    @router.get("")
    async def get_schema(request: Request, owner_id: str, parent: str, parent_id: str, principal=Depends(reader)):
        query = parse_query(request, collection=False, expandable=("directories",))
        doc = await call_owned(request, principal, root, owner_id, schemas_of.get_schema, schema_owner(parent),
                               parent_id)
        return ok(entity(request, doc, here(owner_id, parent, parent_id, "/$entity"), query))

    @router.put("")
    async def put_schema(request: Request, owner_id: str, parent: str, parent_id: str, principal=Depends(writer)):
        body = await read_json(request, SynchronizationSchema, limit(request))
        await call_owned(request, principal, root, owner_id, schemas_of.replace_schema, schema_owner(parent),
                         parent_id, body)
        return no_content()

    @router.patch("")
    async def patch_schema(request: Request, owner_id: str, parent: str, parent_id: str,
                           principal=Depends(writer)):
        """The SDK sends PATCH; Entra answers 404. ``GRAPHSYNC_SCHEMA_PATCH`` chooses: 'replace'
        (default, treat as the documented full PUT) or 'reject' (404 like Entra)."""
        if request.app.state.runtime.settings.schema_patch == "reject":
            raise NotFound(f"No HTTP resource was found that matches the request URI '{request.url.path}' "
                           "for PATCH; use PUT.", code="UnknownError")
        return await put_schema(request, owner_id, parent, parent_id, principal)

    @router.delete("")
    async def reset_schema(request: Request, owner_id: str, parent: str, parent_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, schemas_of.reset_schema, schema_owner(parent), parent_id)
        return no_content()

    # -- directories ---------------------------------------------------------------------------

    @router.get("/directories")
    async def list_directories(request: Request, owner_id: str, parent: str, parent_id: str,
                               principal=Depends(reader)):
        query = parse_query(request)
        items = await call_owned(request, principal, root, owner_id, schemas_of.list_directories,
                                 schema_owner(parent), parent_id)
        return ok(collection(request, paged(items, query), here(owner_id, parent, parent_id, "/directories"), query))

    @router.post("/directories")
    async def add_directory(request: Request, owner_id: str, parent: str, parent_id: str,
                            principal=Depends(writer)):
        body = await read_json(request, DirectoryDefinition, limit(request))
        doc = await call_owned(request, principal, root, owner_id, schemas_of.add_directory, schema_owner(parent),
                               parent_id, body)
        return ok(entity(request, doc, here(owner_id, parent, parent_id, "/directories/$entity")), status=201)

    @router.get("/directories/{directory_id}")
    async def get_directory(request: Request, owner_id: str, parent: str, parent_id: str, directory_id: str,
                            principal=Depends(reader)):
        query = parse_query(request, collection=False)
        doc = await call_owned(request, principal, root, owner_id, schemas_of.get_directory, schema_owner(parent),
                               parent_id, directory_id)
        return ok(entity(request, doc, here(owner_id, parent, parent_id, "/directories/$entity"), query))

    @router.patch("/directories/{directory_id}")
    async def update_directory(request: Request, owner_id: str, parent: str, parent_id: str, directory_id: str,
                               principal=Depends(writer)):
        body = await read_json(request, DirectoryDefinitionUpdate, limit(request))
        await call_owned(request, principal, root, owner_id, schemas_of.update_directory, schema_owner(parent),
                         parent_id, directory_id, body)
        return no_content()

    @router.delete("/directories/{directory_id}")
    async def delete_directory(request: Request, owner_id: str, parent: str, parent_id: str, directory_id: str,
                               principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, schemas_of.delete_directory, schema_owner(parent),
                         parent_id, directory_id)
        return no_content()

    @router.post("/directories/{directory_id}/discover")
    async def discover(request: Request, owner_id: str, parent: str, parent_id: str, directory_id: str,
                       principal=Depends(discoverer)):
        doc = await call_owned(request, principal, root, owner_id, schemas_of.discover_directory,
                               schema_owner(parent), parent_id, directory_id)
        return ok(entity(request, doc, "microsoft.graph.directoryDefinition"))

    # -- functions, operators, expressions -----------------------------------------------------

    @router.get("/functions")
    @router.get("/functions()")
    async def functions(request: Request, owner_id: str, parent: str, parent_id: str, principal=Depends(reader)):
        query = parse_query(request)
        await call_owned(request, principal, root, owner_id, schemas_of.get_schema, schema_owner(parent), parent_id)
        return ok(collection(request, paged(expressions.function_schemas(), query),
                             "Collection(microsoft.graph.attributeMappingFunctionSchema)", query))

    @router.get("/filterOperators")
    @router.get("/filterOperators()")
    async def filter_operators(request: Request, owner_id: str, parent: str, parent_id: str,
                               principal=Depends(reader)):
        query = parse_query(request)
        await call_owned(request, principal, root, owner_id, schemas_of.get_schema, schema_owner(parent), parent_id)
        return ok(collection(request, paged(expressions.filter_operator_schemas(), query),
                             "Collection(microsoft.graph.filterOperatorSchema)", query))

    @router.post("/parseExpression")
    async def parse_expression(request: Request, owner_id: str, parent: str, parent_id: str,
                               principal=Depends(writer)):
        body = await read_json(request, ParseExpressionBody, limit(request))
        # not call_owned: that would evaluate inside a write transaction (see the service)
        result = await run_in_threadpool(parse_service.parse_expression, request.app.state.runtime,
                                         principal.tenant_id, root, owner_id, schema_owner(parent), parent_id, body)
        return ok(entity(request, result, "microsoft.graph.parseExpressionResponse"))

    return router
