"""Routes for the directory: users, groups, members, managers, deleted items, app role
assignments and the delta queries. Thin: parse → call a service → render."""
from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from graphsync.api.auth import (ASSIGNMENT_READ, ASSIGNMENT_WRITE, GROUP_READ, GROUP_WRITE, MEMBER_WRITE, USER_READ,
                                USER_WRITE, allow)
from graphsync.api.common import call, check_version, limit, no_content, ok
from graphsync.api.http import public_url, read_body, read_json, validate_body
from graphsync.api.odata import MAX_TOP, collection, context_url, entity, parse_query, select_fields
from graphsync.directory_models import AppRoleAssignmentBody, GroupBody, UserBody
from graphsync.errors import BadRequest, Forbidden
from graphsync.json_body import load_object
from graphsync.services import directory
from graphsync.services.directory import GROUP, USER
from graphsync.services.tokens import Principal

router = APIRouter(prefix="/{version}", dependencies=[Depends(check_version)], tags=["directory"])
user_reader, user_writer = allow(*USER_READ), allow(*USER_WRITE)
group_reader, group_writer, member_writer = allow(*GROUP_READ), allow(*GROUP_WRITE), allow(*MEMBER_WRITE)
assignment_reader, assignment_writer = allow(*ASSIGNMENT_READ), allow(*ASSIGNMENT_WRITE)
# deletedItems/{id} can be a user or a group: admit either here, then check the one it is.
deleted_reader = allow(*dict.fromkeys(USER_READ + GROUP_READ))
deleted_writer = allow(*dict.fromkeys(USER_WRITE + GROUP_WRITE))
READ_NEEDS, WRITE_NEEDS = {USER: USER_READ, GROUP: GROUP_READ}, {USER: USER_WRITE, GROUP: GROUP_WRITE}

DELTA_PAGE_SIZE = 100
_REF = re.compile(r"(?:directoryObjects|users|groups)(?:/|\(')([A-Za-z0-9-]+)'?\)?/?$")


# -- helpers ----------------------------------------------------------------------------------------

async def read_object(request: Request) -> dict:
    """The raw JSON object of the body (with its ``@odata.*`` keys), for ``$ref`` and ``@odata.bind``."""
    raw = await read_body(request, limit(request))
    if not raw.strip():
        raise BadRequest("A request body is required.")
    return load_object(raw)


def ref_id(url: object) -> str:
    """The object id in an ``@odata.id``/``@odata.bind`` URL such as ``…/directoryObjects/{id}``."""
    match = _REF.search(url) if isinstance(url, str) else None
    if match is None:
        raise BadRequest(f"Invalid object identifier '{url}'.", code="Request_BadRequest")
    return match.group(1)


def require(principal: Principal, permissions: tuple[str, ...]) -> None:
    if not principal.roles & frozenset(permissions):
        raise Forbidden("Insufficient privileges to complete the operation. This operation needs one of: "
                        + ", ".join(permissions) + ".")


def text(value: int) -> PlainTextResponse:
    return PlainTextResponse(str(value))


# -- users ------------------------------------------------------------------------------------------

@router.get("/users/delta")
@router.get("/users/delta()")
async def users_delta(request: Request, principal=Depends(user_reader)):
    return await delta(request, principal, USER, "users")


@router.get("/users/$count")
async def count_users(request: Request, principal=Depends(user_reader)):
    return text(await call(request, principal, directory.count_users, request.query_params.get("$filter")))


@router.get("/users")
async def list_users(request: Request, principal=Depends(user_reader)):
    query = parse_query(request, filterable=True)
    page = await call(request, principal, directory.list_users, query.filter, query.offset, query.top,
                      query.count)
    return ok(collection(request, page, "users", query))


@router.post("/users")
async def create_user(request: Request, principal=Depends(user_writer)):
    body = await read_json(request, UserBody, limit(request))
    doc = await call(request, principal, directory.create_user, body)
    return ok(entity(request, doc, "users/$entity"), status=201)


@router.get("/users/{user_id}")
async def get_user(request: Request, user_id: str, principal=Depends(user_reader)):
    query = parse_query(request, collection=False)
    return ok(entity(request, await call(request, principal, directory.get_user, user_id), "users/$entity", query))


@router.patch("/users/{user_id}")
async def update_user(request: Request, user_id: str, principal=Depends(user_writer)):
    body = await read_json(request, UserBody, limit(request))
    await call(request, principal, directory.update_user, user_id, body)
    return no_content()


@router.delete("/users/{user_id}")
async def delete_user(request: Request, user_id: str, principal=Depends(user_writer)):
    await call(request, principal, directory.delete_user, user_id)
    return no_content()


@router.get("/users/{user_id}/manager")
async def get_manager(request: Request, user_id: str, principal=Depends(user_reader)):
    query = parse_query(request, collection=False)
    doc = await call(request, principal, directory.get_manager, user_id)
    return ok(entity(request, directory.typed(doc, USER), "directoryObjects/$entity", query))


@router.put("/users/{user_id}/manager/$ref")
async def set_manager(request: Request, user_id: str, principal=Depends(user_writer)):
    manager = ref_id((await read_object(request)).get("@odata.id"))
    await call(request, principal, directory.set_manager, user_id, manager)
    return no_content()


@router.delete("/users/{user_id}/manager/$ref")
async def remove_manager(request: Request, user_id: str, principal=Depends(user_writer)):
    await call(request, principal, directory.remove_manager, user_id)
    return no_content()


@router.get("/users/{user_id}/directReports")
async def list_direct_reports(request: Request, user_id: str, principal=Depends(user_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_direct_reports, user_id, query.offset, query.top)
    return ok(collection(request, page, "directoryObjects", query))


@router.get("/users/{user_id}/memberOf")
async def list_user_member_of(request: Request, user_id: str, principal=Depends(user_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_member_of, USER, user_id, query.offset, query.top)
    return ok(collection(request, page, "directoryObjects", query))


@router.get("/users/{user_id}/appRoleAssignments")
async def list_user_assignments(request: Request, user_id: str, principal=Depends(user_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_assignments_of, USER, user_id, query.offset, query.top)
    return ok(collection(request, page, f"users('{user_id}')/appRoleAssignments", query))


# -- groups -----------------------------------------------------------------------------------------

@router.get("/groups/delta")
@router.get("/groups/delta()")
async def groups_delta(request: Request, principal=Depends(group_reader)):
    return await delta(request, principal, GROUP, "groups")


@router.get("/groups/$count")
async def count_groups(request: Request, principal=Depends(group_reader)):
    return text(await call(request, principal, directory.count_groups, request.query_params.get("$filter")))


@router.get("/groups")
async def list_groups(request: Request, principal=Depends(group_reader)):
    query = parse_query(request, filterable=True)
    page = await call(request, principal, directory.list_groups, query.filter, query.offset, query.top,
                      query.count)
    return ok(collection(request, page, "groups", query))


@router.post("/groups")
async def create_group(request: Request, principal=Depends(group_writer)):
    """Accepts ``members@odata.bind`` (URLs of users or groups), as Graph does."""
    data = await read_object(request)
    binds = data.pop("members@odata.bind", [])
    if not isinstance(binds, list):
        raise BadRequest("The property 'members@odata.bind' must be a list of object URLs.")
    if "owners@odata.bind" in data:
        raise BadRequest("Group owners are not supported by graphsync; create the group without "
                         "'owners@odata.bind'.")
    body = validate_body(GroupBody, data)
    doc = await call(request, principal, directory.create_group, body, [ref_id(url) for url in binds])
    return ok(entity(request, doc, "groups/$entity"), status=201)


@router.get("/groups/{group_id}")
async def get_group(request: Request, group_id: str, principal=Depends(group_reader)):
    query = parse_query(request, collection=False)
    return ok(entity(request, await call(request, principal, directory.get_group, group_id), "groups/$entity",
                     query))


@router.patch("/groups/{group_id}")
async def update_group(request: Request, group_id: str, principal=Depends(group_writer)):
    body = await read_json(request, GroupBody, limit(request))
    await call(request, principal, directory.update_group, group_id, body)
    return no_content()


@router.delete("/groups/{group_id}")
async def delete_group(request: Request, group_id: str, principal=Depends(group_writer)):
    await call(request, principal, directory.delete_group, group_id)
    return no_content()


@router.get("/groups/{group_id}/members/$count")
async def count_members(request: Request, group_id: str, principal=Depends(group_reader)):
    return text((await call(request, principal, directory.list_members, group_id, 0, 1)).total)


@router.get("/groups/{group_id}/members")
async def list_members(request: Request, group_id: str, principal=Depends(group_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_members, group_id, query.offset, query.top)
    return ok(collection(request, page, "directoryObjects", query))


@router.post("/groups/{group_id}/members/$ref")
async def add_member(request: Request, group_id: str, principal=Depends(member_writer)):
    member = ref_id((await read_object(request)).get("@odata.id"))
    await call(request, principal, directory.add_member, group_id, member)
    return no_content()


@router.delete("/groups/{group_id}/members/{member_id}/$ref")
async def remove_member(request: Request, group_id: str, member_id: str, principal=Depends(member_writer)):
    await call(request, principal, directory.remove_member, group_id, member_id)
    return no_content()


@router.get("/groups/{group_id}/memberOf")
async def list_group_member_of(request: Request, group_id: str, principal=Depends(group_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_member_of, GROUP, group_id, query.offset, query.top)
    return ok(collection(request, page, "directoryObjects", query))


@router.get("/groups/{group_id}/appRoleAssignments")
async def list_group_assignments(request: Request, group_id: str, principal=Depends(group_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_assignments_of, GROUP, group_id, query.offset, query.top)
    return ok(collection(request, page, f"groups('{group_id}')/appRoleAssignments", query))


# -- app role assignments of a service principal ------------------------------------------------------

@router.get("/servicePrincipals/{sp_id}/appRoleAssignedTo")
async def list_assigned_to(request: Request, sp_id: str, principal=Depends(assignment_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_assignments_to, sp_id, query.offset, query.top)
    return ok(collection(request, page, f"servicePrincipals('{sp_id}')/appRoleAssignedTo", query))


@router.post("/servicePrincipals/{sp_id}/appRoleAssignedTo")
async def create_assignment(request: Request, sp_id: str, principal=Depends(assignment_writer)):
    body = await read_json(request, AppRoleAssignmentBody, limit(request))
    doc = await call(request, principal, directory.create_assignment, sp_id, body)
    return ok(entity(request, doc, f"servicePrincipals('{sp_id}')/appRoleAssignedTo/$entity"), status=201)


@router.delete("/servicePrincipals/{sp_id}/appRoleAssignedTo/{assignment_id}")
async def delete_assignment(request: Request, sp_id: str, assignment_id: str, principal=Depends(assignment_writer)):
    await call(request, principal, directory.delete_assignment, sp_id, assignment_id)
    return no_content()


# -- deleted items ----------------------------------------------------------------------------------

@router.get("/directory/deletedItems/microsoft.graph.user")
@router.get("/directory/deletedItems/graph.user")  # the SDK's short form of the cast
async def list_deleted_users(request: Request, principal=Depends(user_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_deleted, USER, query.offset, query.top)
    return ok(collection(request, page, "users", query))


@router.get("/directory/deletedItems/microsoft.graph.group")
@router.get("/directory/deletedItems/graph.group")
async def list_deleted_groups(request: Request, principal=Depends(group_reader)):
    query = parse_query(request)
    page = await call(request, principal, directory.list_deleted, GROUP, query.offset, query.top)
    return ok(collection(request, page, "groups", query))


async def _on_deleted_item(request: Request, principal: Principal, object_id: str, needs: dict, fn):
    """Check the permission for the kind of object it is (user or group), then run ``fn``."""
    require(principal, needs[await call(request, principal, directory.deleted_item_type, object_id)])
    return await call(request, principal, fn, object_id)


@router.get("/directory/deletedItems/{object_id}")
async def get_deleted_item(request: Request, object_id: str, principal=Depends(deleted_reader)):
    query = parse_query(request, collection=False)
    doc = await _on_deleted_item(request, principal, object_id, READ_NEEDS, directory.get_deleted_item)
    return ok(entity(request, doc, "directoryObjects/$entity", query))


@router.post("/directory/deletedItems/{object_id}/restore")
async def restore_deleted_item(request: Request, object_id: str, principal=Depends(deleted_writer)):
    doc = await _on_deleted_item(request, principal, object_id, WRITE_NEEDS, directory.restore_deleted_item)
    return ok(entity(request, doc, "directoryObjects/$entity"))


@router.delete("/directory/deletedItems/{object_id}")
async def hard_delete_item(request: Request, object_id: str, principal=Depends(deleted_writer)):
    await _on_deleted_item(request, principal, object_id, WRITE_NEEDS, directory.hard_delete_item)
    return no_content()


# -- delta ------------------------------------------------------------------------------------------

def _encode_state(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_state(token: str) -> dict:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        if not isinstance(state, dict) or type(state.get("seq")) is not int or not 0 <= state["seq"] < 2**63:
            raise ValueError
        if "after" in state and not (isinstance(state["after"], str) and state["after"].isprintable()):
            raise ValueError
        return state
    except (ValueError, TypeError, UnicodeDecodeError):
        raise BadRequest("The $deltatoken or $skiptoken is invalid or expired.", code="Request_BadRequest") from None


def _page_size(request: Request) -> int:
    match = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("prefer", ""))
    return min(max(int(match.group(1)), 1), MAX_TOP) if match else DELTA_PAGE_SIZE


def _render_delta_item(item: dict, select: tuple[str, ...]) -> dict:
    if "@removed" in item or not select:
        return item
    rendered = select_fields(item, select)
    if "members" in select and "members@delta" in item:
        rendered["members@delta"] = item["members@delta"]
    return rendered


async def delta(request: Request, principal: Principal, object_type: str, fragment: str):
    """GET /users/delta and /groups/delta: the first round returns every live object, then
    ``@odata.deltaLink``; calling that link returns what changed since (``@removed`` for deleted)."""
    params = request.query_params
    for name in params:
        if name.startswith("$") and name not in ("$select", "$deltatoken", "$skiptoken"):
            raise BadRequest(f"The query option '{name}' is not supported on delta queries.")
    select = tuple(s.strip() for s in params.get("$select", "").split(",") if s.strip())
    token = params.get("$skiptoken") or params.get("$deltatoken")
    if token == "latest":
        page = directory.DeltaPage([], {"seq": await call(request, principal, directory.latest_change_seq)}, True)
    else:
        state = _decode_state(token) if token else None
        page = await call(request, principal, directory.delta, object_type, state, _page_size(request))
    link_params = {k: v for k, v in params.items() if k not in ("$skiptoken", "$deltatoken")}
    link_params["$deltatoken" if page.final else "$skiptoken"] = _encode_state(page.state)
    link = f"{public_url(request)}?{urlencode(link_params, safe='$,')}"
    return ok({"@odata.context": context_url(request, fragment),
               "value": [_render_delta_item(i, select) for i in page.items],
               "@odata.deltaLink" if page.final else "@odata.nextLink": link})
