"""The directory (users, groups, members, managers, app role assignments, deleted items, delta)
against a real server on SQLite and PostgreSQL: the official msgraph-sdk for what an SDK user
does, raw HTTP for deleted items, delta and the error cases."""
from __future__ import annotations

import uuid

import httpx
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
    InstantiatePostRequestBody)
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.user import User
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.conftest import SCIM_APP_TEMPLATE, bearer_client, token_for

DEFAULT_ROLE = uuid.UUID("00000000-0000-0000-0000-000000000000")
GRAPH = "https://graph.microsoft.com/v1.0"


def new_user(name: str, **props) -> User:
    props.setdefault("account_enabled", True)
    return User(user_principal_name=f"{name}@contoso.com", display_name=name.title(), mail_nickname=name,
                password_profile=PasswordProfile(password="Pa55w.rd!"), **props)


def post_user(http: httpx.Client, name: str, **props) -> dict:
    response = http.post("/v1.0/users", json={"userPrincipalName": f"{name}@contoso.com",
                                              "displayName": name.title(), **props})
    assert response.status_code == 201, response.text
    return response.json()


def post_group(http: httpx.Client, name: str) -> dict:
    response = http.post("/v1.0/groups", json={"displayName": name, "mailEnabled": False,
                                               "mailNickname": name.replace(" ", ""), "securityEnabled": True})
    assert response.status_code == 201, response.text
    return response.json()


def add_member(http: httpx.Client, group_id: str, member_id: str) -> httpx.Response:
    return http.post(f"/v1.0/groups/{group_id}/members/$ref",
                     json={"@odata.id": f"{GRAPH}/directoryObjects/{member_id}"})


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["value"]]


# ------------------------------------------------------------------------------------------------
# The SDK

@pytest.mark.asyncio
async def test_user_crud_with_the_sdk(graph):
    created = await graph.users.post(new_user("adele", job_title="Engineer", business_phones=["+1 555 0100"]))
    assert created.id and created.user_principal_name == "adele@contoso.com"
    assert created.account_enabled is True and created.job_title == "Engineer"
    assert created.business_phones == ["+1 555 0100"] and created.created_date_time is not None

    item = graph.users.by_user_id(created.id)
    await item.patch(User(department="R&D", account_enabled=False))
    got = await item.get()
    assert (got.department, got.account_enabled, got.job_title) == ("R&D", False, "Engineer")
    assert created.id in [u.id for u in (await graph.users.get()).value]

    await item.delete()
    with pytest.raises(ODataError) as missing:
        await item.get()
    assert missing.value.response_status_code == 404


@pytest.mark.asyncio
async def test_list_users_with_filter_select_and_paging(graph):
    made = []
    for name, department, enabled in [("ann", "Sales", True), ("ben", "sales", False), ("cat", "Support", True),
                                      ("dan", "Sales", True), ("eve", "Legal", True)]:
        made.append((await graph.users.post(new_user(name, department=department, account_enabled=enabled))).id)

    def query(**params):
        parameters = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**params)
        return RequestConfiguration(query_parameters=parameters)

    sales = await graph.users.get(query(filter="department eq 'sales'"))  # eq is case-insensitive, as in Entra
    assert sorted(u.user_principal_name for u in sales.value) == ["ann@contoso.com", "ben@contoso.com",
                                                                  "dan@contoso.com"]
    enabled_sales = await graph.users.get(query(filter="department eq 'Sales' and accountEnabled eq true"))
    assert sorted(u.display_name for u in enabled_sales.value) == ["Ann", "Dan"]
    s_names = await graph.users.get(query(filter="startswith(displayName,'e')"))
    assert [u.display_name for u in s_names.value] == ["Eve"]
    either = await graph.users.get(query(filter="department eq 'Support' or department eq 'sales' and "
                                                "accountEnabled eq false or startswith(displayName,'e')"))
    assert sorted(u.display_name for u in either.value) == ["Ben", "Cat", "Eve"]  # and binds tighter than or
    assert await graph.users.count.get() == 5

    selected = await graph.users.get(query(filter="userPrincipalName eq 'cat@contoso.com'",
                                           select=["displayName", "department"]))
    assert [(u.display_name, u.department, u.job_title, u.account_enabled) for u in selected.value] == [
        ("Cat", "Support", None, None)]

    page = await graph.users.get(query(top=2, count=True))
    assert page.odata_count == 5 and len(page.value) == 2 and page.odata_next_link
    seen = [u.id for u in page.value]
    while page.odata_next_link:
        page = await graph.users.with_url(page.odata_next_link).get()
        seen += [u.id for u in page.value]
    assert seen == made
    assert await graph.users.count.get() == 5

    filtered = await graph.users.get(query(filter="department eq 'Sales'", top=2))
    assert len(filtered.value) == 2 and "filter" in filtered.odata_next_link
    rest = await graph.users.with_url(filtered.odata_next_link).get()
    assert [u.id for u in filtered.value + rest.value] == [made[0], made[1], made[3]]
    assert rest.odata_next_link is None


@pytest.mark.asyncio
async def test_group_crud_and_members_ref_with_the_sdk(graph):
    user = await graph.users.post(new_user("fay"))
    inner = await graph.groups.post(Group(display_name="Inner", mail_enabled=False, mail_nickname="inner",
                                          security_enabled=True))
    group = await graph.groups.post(Group(display_name="Engineering", mail_enabled=False, mail_nickname="eng",
                                          security_enabled=True, group_types=[]))
    assert group.display_name == "Engineering" and group.security_enabled is True and group.group_types == []

    members = graph.groups.by_group_id(group.id).members
    await members.ref.post(ReferenceCreate(odata_id=f"{GRAPH}/directoryObjects/{user.id}"))
    await members.ref.post(ReferenceCreate(odata_id=f"{GRAPH}/groups/{inner.id}"))
    listed = (await members.get()).value
    assert sorted((type(m).__name__, m.id) for m in listed) == sorted([("User", user.id), ("Group", inner.id)])
    assert next(m for m in listed if m.id == user.id).user_principal_name == "fay@contoso.com"
    assert await members.count.get() == 2

    with pytest.raises(ODataError) as twice:
        await members.ref.post(ReferenceCreate(odata_id=f"{GRAPH}/directoryObjects/{user.id}"))
    assert twice.value.response_status_code == 400
    assert "One or more added object references already exist" in twice.value.error.message

    await members.by_directory_object_id(inner.id).ref.delete()
    assert [m.id for m in (await members.get()).value] == [user.id]

    item = graph.groups.by_group_id(group.id)
    await item.patch(Group(description="Builds things"))
    assert (await item.get()).description == "Builds things"
    await item.delete()
    with pytest.raises(ODataError) as gone:
        await item.get()
    assert gone.value.response_status_code == 404


@pytest.mark.asyncio
async def test_manager_ref_with_the_sdk(graph):
    boss = await graph.users.post(new_user("gil"))
    report = await graph.users.post(new_user("hal"))
    manager = graph.users.by_user_id(report.id).manager
    await manager.ref.put(ReferenceUpdate(odata_id=f"{GRAPH}/users/{boss.id}"))
    got = await manager.get()
    assert isinstance(got, User) and got.id == boss.id and got.display_name == "Gil"
    reports = await graph.users.by_user_id(boss.id).direct_reports.get()
    assert [r.id for r in reports.value] == [report.id]

    await manager.ref.delete()
    with pytest.raises(ODataError) as none:
        await manager.get()
    assert none.value.response_status_code == 404


@pytest.mark.asyncio
async def test_app_role_assigned_to_with_the_sdk(graph):
    created = await graph.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        InstantiatePostRequestBody(display_name="Contoso SCIM"))
    sp = created.service_principal
    user = await graph.users.post(new_user("ida"))
    group = await graph.groups.post(Group(display_name="Pilot", mail_enabled=False, mail_nickname="pilot",
                                          security_enabled=True))
    assigned_to = graph.service_principals.by_service_principal_id(sp.id).app_role_assigned_to

    to_user = await assigned_to.post(AppRoleAssignment(principal_id=uuid.UUID(user.id),
                                                       resource_id=uuid.UUID(sp.id), app_role_id=DEFAULT_ROLE))
    assert (str(to_user.principal_id), to_user.principal_type, to_user.principal_display_name) == (
        user.id, "User", "Ida")
    assert (str(to_user.resource_id), to_user.resource_display_name, to_user.app_role_id) == (
        sp.id, "Contoso SCIM", DEFAULT_ROLE)
    to_group = await assigned_to.post(AppRoleAssignment(principal_id=uuid.UUID(group.id),
                                                        resource_id=uuid.UUID(sp.id), app_role_id=DEFAULT_ROLE))
    assert to_group.principal_type == "Group"

    assert sorted(a.id for a in (await assigned_to.get()).value) == sorted([to_user.id, to_group.id])
    of_user = await graph.users.by_user_id(user.id).app_role_assignments.get()
    assert [a.id for a in of_user.value] == [to_user.id]

    with pytest.raises(ODataError) as twice:
        await assigned_to.post(AppRoleAssignment(principal_id=uuid.UUID(user.id), resource_id=uuid.UUID(sp.id),
                                                 app_role_id=DEFAULT_ROLE))
    assert twice.value.response_status_code == 400

    await assigned_to.by_app_role_assignment_id(to_group.id).delete()
    assert [a.id for a in (await assigned_to.get()).value] == [to_user.id]

    # deleting the service principal deletes the assignments to it
    await graph.service_principals.by_service_principal_id(sp.id).delete()
    assert (await graph.users.by_user_id(user.id).app_role_assignments.get()).value == []


@pytest.mark.asyncio
async def test_users_delta_with_the_sdk(graph):
    created = await graph.users.post(new_user("jon"))
    first = await graph.users.delta.get()
    assert [u.id for u in first.value] == [created.id] and first.odata_delta_link
    await graph.users.by_user_id(created.id).patch(User(city="Bergen"))
    changed = await graph.users.delta.with_url(first.odata_delta_link).get()
    assert [(u.id, u.city) for u in changed.value] == [(created.id, "Bergen")]


@pytest.mark.asyncio
async def test_deleted_items_with_the_sdk(graph):
    created = await graph.users.post(new_user("kit"))
    await graph.users.by_user_id(created.id).delete()
    deleted = await graph.directory.deleted_items.graph_user.get()
    assert [(u.id, u.deleted_date_time is not None) for u in deleted.value] == [(created.id, True)]
    restored = await graph.directory.deleted_items.by_directory_object_id(created.id).restore.post()
    assert isinstance(restored, User) and restored.id == created.id
    assert (await graph.directory.deleted_items.graph_user.get()).value == []
    assert (await graph.users.by_user_id(created.id).get()).display_name == "Kit"


# ------------------------------------------------------------------------------------------------
# Deleted items

def test_soft_delete_restore_and_hard_delete_of_a_user(http):
    boss, user, other = post_user(http, "jan"), post_user(http, "kim"), post_user(http, "lou")
    group = post_group(http, "Ops")
    assert add_member(http, group["id"], user["id"]).status_code == 204
    assert http.put(f"/v1.0/users/{other['id']}/manager/$ref",
                    json={"@odata.id": f"{GRAPH}/users/{user['id']}"}).status_code == 204
    assert http.put(f"/v1.0/users/{user['id']}/manager/$ref",
                    json={"@odata.id": f"{GRAPH}/users/{boss['id']}"}).status_code == 204

    assert http.delete(f"/v1.0/users/{user['id']}").status_code == 204
    assert http.get(f"/v1.0/users/{user['id']}").status_code == 404
    assert user["id"] not in ids(http.get("/v1.0/users"))
    assert ids(http.get(f"/v1.0/groups/{group['id']}/members")) == []  # hidden while deleted
    assert http.get(f"/v1.0/users/{other['id']}/manager").status_code == 404
    deleted = http.get("/v1.0/directory/deletedItems/microsoft.graph.user").json()["value"]
    assert [d["id"] for d in deleted] == [user["id"]] and deleted[0]["deletedDateTime"]
    one = http.get(f"/v1.0/directory/deletedItems/{user['id']}").json()
    assert one["@odata.type"] == "#microsoft.graph.user" and one["userPrincipalName"] == "kim@contoso.com"

    restored = http.post(f"/v1.0/directory/deletedItems/{user['id']}/restore")
    assert restored.status_code == 200 and restored.json()["deletedDateTime"] is None
    assert http.get(f"/v1.0/users/{user['id']}").status_code == 200
    assert ids(http.get(f"/v1.0/groups/{group['id']}/members")) == [user["id"]]  # links come back
    assert http.get(f"/v1.0/users/{other['id']}/manager").json()["id"] == user["id"]
    assert http.get(f"/v1.0/users/{user['id']}/manager").json()["id"] == boss["id"]
    assert ids(http.get("/v1.0/directory/deletedItems/microsoft.graph.user")) == []

    # a live object is not a deleted item
    assert http.delete(f"/v1.0/directory/deletedItems/{user['id']}").status_code == 404
    assert http.delete(f"/v1.0/users/{user['id']}").status_code == 204
    assert http.delete(f"/v1.0/directory/deletedItems/{user['id']}").status_code == 204
    assert http.get(f"/v1.0/directory/deletedItems/{user['id']}").status_code == 404
    assert http.post(f"/v1.0/directory/deletedItems/{user['id']}/restore").status_code == 404
    assert ids(http.get(f"/v1.0/groups/{group['id']}/members")) == []
    assert http.get(f"/v1.0/users/{other['id']}/manager").status_code == 404
    # the UPN is free again
    assert http.post("/v1.0/users", json={"userPrincipalName": "kim@contoso.com",
                                          "displayName": "Kim"}).status_code == 201


def test_soft_delete_and_restore_of_a_group(http):
    group, user = post_group(http, "Temp"), post_user(http, "max")
    assert add_member(http, group["id"], user["id"]).status_code == 204
    assert http.delete(f"/v1.0/groups/{group['id']}").status_code == 204
    assert group["id"] not in ids(http.get("/v1.0/groups"))
    assert ids(http.get(f"/v1.0/users/{user['id']}/memberOf")) == []
    assert ids(http.get("/v1.0/directory/deletedItems/microsoft.graph.group")) == [group["id"]]
    assert ids(http.get("/v1.0/directory/deletedItems/microsoft.graph.user")) == []
    assert http.post(f"/v1.0/directory/deletedItems/{group['id']}/restore").json()["@odata.type"] == \
        "#microsoft.graph.group"
    assert ids(http.get(f"/v1.0/users/{user['id']}/memberOf")) == [group["id"]]


def test_a_created_user_keeps_every_kind_of_property_it_was_sent(http):
    """Strings, booleans, lists, date-times and nested objects come back as Graph writes them; a
    password is never stored, unsent properties read as null and defaults fill the rest."""
    user = post_user(http, "kinds", accountEnabled=False, businessPhones=["+47 1", "+47 2"],
                     employeeHireDate="2021-05-01T05:00:00+02:00",
                     employeeOrgData={"costCenter": "CC-9", "division": "North"},
                     passwordProfile={"password": "Pa55w.rd!", "forceChangePasswordNextSignIn": True})
    again = http.get(f"/v1.0/users/{user['id']}").json()
    for body in (user, again):
        assert body["accountEnabled"] is False and body["businessPhones"] == ["+47 1", "+47 2"]
        assert body["employeeHireDate"] == "2021-05-01T03:00:00Z"
        assert body["employeeOrgData"] == {"costCenter": "CC-9", "division": "North"}
        assert "passwordProfile" not in body and body["city"] is None
        assert body["mailNickname"] == "kinds" and body["userType"] == "Member" and body["otherMails"] == []


def test_users_page_in_creation_order_with_or_without_a_count(http):
    tag = uuid.uuid4().hex[:8]
    created = [post_user(http, f"page{i}.{tag}", department=f"paging-{tag}")["id"] for i in range(5)]
    for count in (False, True):
        url, seen, pages = "/v1.0/users", [], []
        params = {"$filter": f"department eq 'paging-{tag}'", "$top": 2} | ({"$count": "true"} if count else {})
        while url:
            body = http.get(url, params=params if url == "/v1.0/users" else None).json()
            seen += [u["id"] for u in body["value"]]
            pages.append(len(body["value"]))
            assert ("@odata.count" in body) is count and body.get("@odata.count", 5) == 5
            url = body.get("@odata.nextLink")
        assert seen == created and pages == [2, 2, 1]


def test_counts_leave_deleted_objects_out_and_on_sqlite_read_only_the_live_objects_index(server, http):
    """$count and @odata.count of the whole directory: soft-deleted users and groups are not
    counted, and on SQLite the count reads the live objects' index (migration 0008), not a table
    row per user (7x the time at scale)."""
    from sqlalchemy import event
    users = [post_user(http, f"count{i}.{uuid.uuid4().hex[:6]}")["id"] for i in range(3)]
    groups = [http.post("/v1.0/groups", json={"displayName": f"g{i}", "mailEnabled": False, "mailNickname": f"g{i}",
                                              "securityEnabled": True}).json()["id"] for i in range(2)]
    assert http.delete(f"/v1.0/users/{users[0]}").status_code == 204
    assert http.delete(f"/v1.0/groups/{groups[0]}").status_code == 204
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "count(" in statement:
            statements.append(statement)
    engine = server.runtime.db._reader or server.runtime.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert http.get("/v1.0/users/$count").text == "2"
        assert http.get("/v1.0/groups/$count").text == "1"
        assert http.get("/v1.0/users", params={"$count": "true"}).json()["@odata.count"] == 2
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 3
    if server.runtime.db.dialect == "sqlite":
        with server.runtime.db.reading() as conn:
            for statement in statements:
                plan = " ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                       ("x",)).all())
                assert "_listed" in plan, plan


# ------------------------------------------------------------------------------------------------
# Delta

def follow(http: httpx.Client, url: str, page_size: int | None = None) -> tuple[list[dict], str, int]:
    """Every page of a delta round: (items, deltaLink, number of pages)."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    items, pages = [], 0
    while True:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body, pages = response.json(), pages + 1
        items += body["value"]
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]


def test_users_delta_initial_round_then_changes(http):
    first, second, third, fourth = (post_user(http, n) for n in ("ned", "ola", "pat", "quin"))
    items, delta_link, pages = follow(http, "/v1.0/users/delta?$select=displayName,jobTitle", page_size=3)
    assert pages == 2 and sorted(i["id"] for i in items) == sorted(u["id"] for u in (first, second, third, fourth))
    assert set(items[0]) == {"id", "displayName", "jobTitle"}
    assert "$deltatoken=" in delta_link and "select" in delta_link

    assert follow(http, delta_link)[0] == []  # nothing changed yet

    created = post_user(http, "rae")
    assert http.patch(f"/v1.0/users/{first['id']}", json={"jobTitle": "Lead"}).status_code == 204
    assert http.delete(f"/v1.0/users/{second['id']}").status_code == 204
    assert http.delete(f"/v1.0/users/{third['id']}").status_code == 204
    assert http.delete(f"/v1.0/directory/deletedItems/{third['id']}").status_code == 204
    changed, next_link, _ = follow(http, delta_link)
    assert changed == [
        {"id": created["id"], "displayName": "Rae", "jobTitle": None},
        {"id": first["id"], "displayName": "Ned", "jobTitle": "Lead"},
        {"id": second["id"], "@removed": {"reason": "changed"}},
        {"id": third["id"], "@removed": {"reason": "deleted"}},
    ]
    assert follow(http, next_link)[0] == []
    assert http.post(f"/v1.0/directory/deletedItems/{second['id']}/restore").status_code == 200
    assert [i["id"] for i in follow(http, next_link)[0]] == [second["id"]]


def test_delta_pages_changes_and_groups_carry_members_delta(http):
    group, user, other = post_group(http, "Delta"), post_user(http, "sam"), post_user(http, "tia")
    assert add_member(http, group["id"], user["id"]).status_code == 204
    items, delta_link, _ = follow(http, "/v1.0/groups/delta()")
    assert items[0]["members@delta"] == [{"@odata.type": "#microsoft.graph.user", "id": user["id"]}]

    second = post_group(http, "Delta 2")
    assert add_member(http, group["id"], other["id"]).status_code == 204
    assert http.delete(f"/v1.0/groups/{group['id']}/members/{user['id']}/$ref").status_code == 204
    changed, _, pages = follow(http, delta_link, page_size=1)
    assert pages == 2 and [i["id"] for i in changed] == [second["id"], group["id"]]
    assert changed[1]["members@delta"] == [
        {"@odata.type": "#microsoft.graph.user", "id": other["id"]},
        {"@odata.type": "#microsoft.graph.user", "id": user["id"], "@removed": {"reason": "deleted"}},
    ]


def test_delta_token_latest_and_bad_tokens(http):
    post_user(http, "uma")
    latest = http.get("/v1.0/users/delta", params={"$deltatoken": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    created = post_user(http, "vic")
    assert [i["id"] for i in follow(http, latest["@odata.deltaLink"])[0]] == [created["id"]]
    bad = http.get("/v1.0/users/delta", params={"$deltatoken": "not-a-token"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_BadRequest"
    assert http.get("/v1.0/users/delta", params={"$orderby": "displayName"}).status_code == 400


# ------------------------------------------------------------------------------------------------
# Errors

def test_user_validation_errors(http):
    post_user(http, "wes")
    for body in ({"userPrincipalName": "wes@contoso.com", "displayName": "Again"},
                 {"userPrincipalName": "WES@Contoso.com", "displayName": "Upper case"}):
        duplicate = http.post("/v1.0/users", json=body)
        assert duplicate.status_code == 400
        assert "same value for property userPrincipalName" in duplicate.json()["error"]["message"]
    for body, fragment in [({"displayName": "No UPN"}, "userPrincipalName"),
                           ({"userPrincipalName": "no-at-sign", "displayName": "x"}, "alias@domain"),
                           ({"userPrincipalName": "x@contoso.com"}, "displayName"),
                           ({"userPrincipalName": "x@contoso.com", "displayName": "x", "shoeSize": 9}, "shoeSize"),
                           ({"userPrincipalName": "x@contoso.com", "displayName": "x", "accountEnabled": "maybe"},
                            "accountEnabled")]:
        response = http.post("/v1.0/users", json=body)
        assert response.status_code == 400 and fragment in response.json()["error"]["message"], response.text
    second = post_user(http, "xan")
    clash = http.patch(f"/v1.0/users/{second['id']}", json={"userPrincipalName": "wes@contoso.com"})
    assert clash.status_code == 400
    assert http.patch(f"/v1.0/users/{second['id']}", json={"displayName": None}).status_code == 400


def test_unknown_ids_are_404(http):
    user, group = post_user(http, "yan"), post_group(http, "Known")
    missing = str(uuid.uuid4())
    assert http.get(f"/v1.0/users/{missing}").status_code == 404
    assert http.patch(f"/v1.0/users/{missing}", json={"jobTitle": "x"}).status_code == 404
    assert http.delete(f"/v1.0/groups/{missing}").status_code == 404
    assert add_member(http, group["id"], missing).status_code == 404
    assert add_member(http, missing, user["id"]).status_code == 404
    not_member = http.delete(f"/v1.0/groups/{group['id']}/members/{user['id']}/$ref")
    assert not_member.status_code == 404 and not_member.json()["error"]["code"] == "Request_ResourceNotFound"
    assert http.put(f"/v1.0/users/{user['id']}/manager/$ref",
                    json={"@odata.id": f"{GRAPH}/users/{missing}"}).status_code == 404
    assert http.delete(f"/v1.0/users/{user['id']}/manager/$ref").status_code == 404
    assert http.get(f"/v1.0/servicePrincipals/{missing}/appRoleAssignedTo").status_code == 404
    assert http.post(f"/v1.0/directory/deletedItems/{missing}/restore").status_code == 404


def test_bad_filters_and_refs_are_400(http):
    for expression in ("shoeSize eq '9'", "displayName ne 'x'", "displayName eq 'x' nor surname eq 'y'",
                       "displayName eq 'x' or",
                       "accountEnabled eq 'yes'", "startswith(accountEnabled,'t')", "displayName eq",
                       "displayName eq 'unterminated"):
        response = http.get("/v1.0/users", params={"$filter": expression})
        assert response.status_code == 400, expression
    assert http.get("/v1.0/groups", params={"$filter": "accountEnabled eq true"}).status_code == 400
    assert http.get("/v1.0/users", params={"$orderby": "displayName"}).status_code == 400
    group = post_group(http, "Refs")
    assert http.post(f"/v1.0/groups/{group['id']}/members/$ref", json={"id": "x"}).status_code == 400
    assert http.post(f"/v1.0/groups/{group['id']}/members/$ref",
                     json={"@odata.id": "https://example.com/nothing"}).status_code == 400


def test_nul_characters_are_400(http):
    group, user = post_group(http, "Nul"), post_user(http, "nul")
    for response in (http.get("/v1.0/users", params={"$filter": "displayName eq 'a\u0000'"}),
                     http.post(f"/v1.0/groups/{group['id']}/members/$ref",
                               json={"@odata.id": f"{GRAPH}/directoryObjects/{user['id']}\u0000"}),
                     http.post("/v1.0/groups", json={"displayName": "a\u0000b"}),
                     http.post("/v1.0/users", json={"userPrincipalName": "n@contoso.com", "displayName": "\u0000"}),
                     http.get("/v1.0/users/delta", params={"$skiptoken": "eyJzZXEiOjAsImFmdGVyIjoiXHUwMDAwIn0"})):
        assert response.status_code == 400, response.text


def test_app_role_assignment_errors(http, scim_app):
    sp_id = scim_app["servicePrincipal"]["id"]
    user = post_user(http, "zed")
    url = f"/v1.0/servicePrincipals/{sp_id}/appRoleAssignedTo"
    body = {"principalId": user["id"], "resourceId": sp_id, "appRoleId": str(DEFAULT_ROLE)}
    assert http.post(url, json={**body, "resourceId": str(uuid.uuid4())}).status_code == 400
    assert http.post(url, json={**body, "appRoleId": str(uuid.uuid4())}).status_code == 400
    assert http.post(url, json={**body, "principalId": str(uuid.uuid4())}).status_code == 404
    assert http.post(url, json={**body, "principalId": "not-a-guid"}).status_code == 400
    assert http.post(url, json=body).status_code == 201
    assert http.delete(f"{url}/no-such-assignment").status_code == 404


def test_other_tenants_objects_are_404(server, http):
    user, group = post_user(http, "amy"), post_group(http, "Mine")
    other = httpx.post(f"{server.url}/graphsync/tenants").json()
    with bearer_client(server, other["accessToken"]) as them:
        assert them.get(f"/v1.0/users/{user['id']}").status_code == 404
        assert them.get("/v1.0/users/amy@contoso.com").status_code == 404
        assert them.patch(f"/v1.0/users/{user['id']}", json={"jobTitle": "x"}).status_code == 404
        assert them.delete(f"/v1.0/groups/{group['id']}").status_code == 404
        assert ids(them.get("/v1.0/users")) == []
        # the same UPN is free in another tenant; their group cannot take our user as a member
        theirs = them.post("/v1.0/groups", json={"displayName": "Theirs"}).json()
        assert add_member(them, theirs["id"], user["id"]).status_code == 404
        assert them.post("/v1.0/users", json={"userPrincipalName": "amy@contoso.com",
                                              "displayName": "Other Amy"}).status_code == 201
    assert http.get("/v1.0/users/amy@contoso.com").json()["id"] == user["id"]


def test_permissions_are_checked(server, http, tenant):
    user, group = post_user(http, "bea"), post_group(http, "Perms")

    def client(*roles):
        return bearer_client(server, token_for(server, tenant["tenantId"], list(roles)))

    with client("User.Read.All") as reader:
        assert reader.get(f"/v1.0/users/{user['id']}").status_code == 200
        denied = reader.post("/v1.0/users", json={"userPrincipalName": "c@contoso.com", "displayName": "C"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
        assert reader.get("/v1.0/groups").status_code == 403
        assert reader.get("/v1.0/users/delta").status_code == 200
    with client("GroupMember.ReadWrite.All") as members:
        assert add_member(members, group["id"], user["id"]).status_code == 204
        assert members.patch(f"/v1.0/groups/{group['id']}", json={"description": "x"}).status_code == 403
    with client("Synchronization.ReadWrite.All") as sync_only:
        assert sync_only.get("/v1.0/users").status_code == 403
    # deleted items: the permission depends on what the item is
    assert http.delete(f"/v1.0/groups/{group['id']}").status_code == 204
    with client("User.ReadWrite.All") as user_admin:
        assert user_admin.post(f"/v1.0/directory/deletedItems/{group['id']}/restore").status_code == 403
    with client("Group.ReadWrite.All") as group_admin:
        assert group_admin.post(f"/v1.0/directory/deletedItems/{group['id']}/restore").status_code == 200


def test_reads_are_answered_while_a_long_write_is_under_way_and_see_only_what_was_committed(server, tenant, http):
    """An inbound batch or a bulk upload holds the write transaction for a while: GET requests
    neither wait for it nor see its uncommitted rows (the writer here is held open until the reads
    came back; were they waiting for it, they would time out)."""
    import threading

    from graphsync.services import directory
    before = post_user(http, "committed")
    writing, finish, errors = threading.Event(), threading.Event(), []

    def long_write() -> None:
        try:
            with server.runtime.unit(tenant["tenantId"]) as ctx:
                directory.create_user(ctx, {"userPrincipalName": "pending@contoso.com", "displayName": "Pending",
                                            "accountEnabled": True})
                writing.set()
                finish.wait(30)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            writing.set()

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert writing.wait(10) and not errors
        listed = http.get("/v1.0/users", timeout=10)
        counted = http.get("/v1.0/users/$count", timeout=10)
        one = http.get(f"/v1.0/users/{before['id']}", timeout=10)
    finally:
        finish.set()
        writer.join(30)
    assert not errors
    assert [u["userPrincipalName"] for u in listed.json()["value"]] == ["committed@contoso.com"]
    assert counted.text == "1" and one.json()["id"] == before["id"]
    names = [u["userPrincipalName"] for u in http.get("/v1.0/users").json()["value"]]
    assert names == ["committed@contoso.com", "pending@contoso.com"]  # committed now
