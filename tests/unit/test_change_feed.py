"""The directory's change feed and the functions the provisioning engine reads, on SQLite and
PostgreSQL: every write records its changes in its own transaction, in commit order."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table

from graphsync.clock import ManualClock
from graphsync.errors import BadRequest, Conflict, NotFound
from graphsync.models import ApplicationBody, ServicePrincipalBody
from graphsync.runtime.runtime import Runtime
from graphsync.services import applications, directory
from graphsync.store import tables

DIRECTORY_TABLES = ("directory_users", "directory_groups", "group_members", "app_role_assignments",
                    "directory_changes")
DEFAULT_ROLE = directory.DEFAULT_APP_ROLE_ID


@pytest.fixture(scope="module")
def runtime(backend_settings):
    """A runtime on each backend (the test server's database and key, with a clock of our own)."""
    started = Runtime(backend_settings, ManualClock()).start()
    yield started
    started.close()


@pytest.fixture
def tenant_id(runtime) -> str:
    return runtime.new_tenant_with_admin("feed")["tenantId"]


def user(ctx, name: str, **props) -> dict:
    return directory.create_user(ctx, {"userPrincipalName": f"{name}@contoso.com", "displayName": name, **props})


def service_principal(ctx) -> dict:
    app = applications.create_application(ctx, ApplicationBody(display_name="App"))
    return applications.create_service_principal(ctx, ServicePrincipalBody(app_id=app["appId"]))


def summary(changes) -> list[tuple]:
    return [(c.object_type, c.object_id, c.change, c.detail) for c in changes]


def test_a_sequence_of_writes_records_exactly_these_changes_in_order(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        start = directory.latest_change_seq(ctx)
        sp = service_principal(ctx)
        alice, bob = user(ctx, "alice"), user(ctx, "bob")
        group = directory.create_group(ctx, {"displayName": "Staff"})
        directory.add_member(ctx, group["id"], alice["id"])
        directory.set_manager(ctx, bob["id"], alice["id"])
        assert directory.update_user(ctx, alice["id"], {"jobTitle": "CEO", "displayName": "alice"}) == ["jobTitle"]
        assert directory.update_user(ctx, alice["id"], {"jobTitle": "CEO"}) == []  # no change, no record
        assert directory.set_manager(ctx, bob["id"], alice["id"]) is False
        assignment = directory.create_assignment(ctx, sp["id"], {"principalId": alice["id"], "resourceId": sp["id"],
                                                                 "appRoleId": DEFAULT_ROLE})
        directory.delete_user(ctx, alice["id"])
        directory.restore_deleted_item(ctx, alice["id"])
        directory.delete_user(ctx, alice["id"])
        directory.hard_delete_item(ctx, alice["id"])
        changes = directory.read_changes(ctx, start, 100)

    a, b, g = alice["id"], bob["id"], group["id"]
    assigned = {"resourceId": sp["id"], "appRoleId": DEFAULT_ROLE, "assignmentId": assignment["id"]}
    assert summary(changes) == [
        ("user", a, "created", None),
        ("user", b, "created", None),
        ("group", g, "created", None),
        ("group", g, "memberAdded", {"memberId": a, "memberType": "user"}),
        ("user", b, "managerChanged", {"managerId": a}),
        ("user", a, "updated", ["jobTitle"]),
        ("user", a, "assignmentAdded", assigned),
        ("user", a, "softDeleted", None),
        ("user", a, "restored", None),
        ("user", a, "softDeleted", None),
        ("group", g, "memberRemoved", {"memberId": a, "memberType": "user"}),
        ("user", b, "managerChanged", {"managerId": None}),
        ("user", a, "assignmentRemoved", assigned),
        ("user", a, "hardDeleted", None),
    ]
    seqs = [c.seq for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] > start


def test_read_changes_returns_only_later_changes_up_to_the_limit(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        first = user(ctx, "carol")
        watermark = directory.latest_change_seq(ctx)
        second, third = user(ctx, "dave"), user(ctx, "erin")
        directory.update_user(ctx, first["id"], {"department": "Sales"})
    with runtime.unit(tenant_id) as ctx:
        later = directory.read_changes(ctx, watermark, 100)
        assert summary(later) == [("user", second["id"], "created", None), ("user", third["id"], "created", None),
                                  ("user", first["id"], "updated", ["department"])]
        assert directory.read_changes(ctx, watermark, 2) == later[:2]
        assert directory.read_changes(ctx, later[-1].seq, 100) == []
        assert later[-1].seq == directory.latest_change_seq(ctx)
        assert all(isinstance(c, directory.Change) for c in later)


def test_changes_carry_the_time_of_the_write(runtime, tenant_id):
    clock = runtime.clock
    with runtime.unit(tenant_id) as ctx:
        created = user(ctx, "fred")
        clock.advance(timedelta(minutes=5))
        directory.update_user(ctx, created["id"], {"city": "Oslo"})
        first, second = directory.read_changes(ctx, directory.latest_change_seq(ctx) - 2, 10)
    assert second.at - first.at == timedelta(minutes=5)


def test_a_failed_write_records_nothing(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        user(ctx, "gina")
        before = directory.latest_change_seq(ctx)
    with pytest.raises(BadRequest):
        with runtime.unit(tenant_id) as ctx:
            user(ctx, "GINA")  # same UPN, other case
    # a write that fails half-way (group created and recorded, then an unknown member) rolls back whole
    with pytest.raises(NotFound):
        with runtime.unit(tenant_id) as ctx:
            directory.create_group(ctx, {"displayName": "Half"}, member_ids=["00000000-0000-0000-0000-00000000dead"])
    with runtime.unit(tenant_id) as ctx:
        assert directory.latest_change_seq(ctx) == before
        assert directory.read_changes(ctx, before, 100) == []
        assert directory.list_groups(ctx, None, 0, 10).total == 0


def test_tenants_have_separate_feeds(runtime, tenant_id):
    other = runtime.new_tenant_with_admin("other")["tenantId"]
    with runtime.unit(tenant_id) as ctx:
        mine = user(ctx, "hana")
    with runtime.unit(other) as ctx:
        theirs = user(ctx, "hana")  # the same UPN is fine in another tenant
        assert [c.object_id for c in directory.read_changes(ctx, 0, 100)] == [theirs["id"]]
    with runtime.unit(tenant_id) as ctx:
        assert [c.object_id for c in directory.read_changes(ctx, 0, 100)] == [mine["id"]]


def test_writers_of_a_tenant_commit_in_seq_order(runtime, tenant_id):
    """A second writer waits for the first one's commit, so a reader never sees seq N+1 before N."""
    second_done = threading.Event()

    def second_writer():
        with runtime.unit(tenant_id) as other_ctx:
            user(other_ctx, "jill")
        second_done.set()

    thread = threading.Thread(target=second_writer)
    with runtime.unit(tenant_id) as ctx:
        user(ctx, "ivan")  # from here the tenant's writer lock is held until this transaction commits
        thread.start()
        time.sleep(0.5)
        second_waited = not second_done.is_set()
    thread.join(timeout=10)
    assert second_waited, "the second writer did not wait for the first one's commit"
    assert second_done.is_set()
    with runtime.unit(tenant_id) as ctx:
        names = [directory.get_users(ctx, [c.object_id])[c.object_id]["displayName"]
                 for c in directory.read_changes(ctx, 0, 100)]
    assert names == ["ivan", "jill"]


# ------------------------------------------------------------------------------------------------
# What the engine reads

def test_engine_readers(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        sp = service_principal(ctx)
        people = {name: user(ctx, name, employeeId=f"E{index}") for index, name in enumerate(["kai", "lea", "mo"])}
        kai, lea, mo = (people[n]["id"] for n in ("kai", "lea", "mo"))
        team = directory.create_group(ctx, {"displayName": "Team"}, member_ids=[kai, lea])
        outer = directory.create_group(ctx, {"displayName": "Outer"}, member_ids=[team["id"]])
        directory.set_manager(ctx, lea, kai)
        for principal in (mo, team["id"]):
            runtime.clock.advance(timedelta(seconds=1))  # assignments_to lists the oldest first
            directory.create_assignment(ctx, sp["id"], {"principalId": principal, "resourceId": sp["id"],
                                                        "appRoleId": DEFAULT_ROLE})
        directory.delete_user(ctx, kai)

        docs = directory.get_users(ctx, [kai, lea, "unknown"])
        assert set(docs) == {kai, lea} and docs[kai]["deletedDateTime"] and docs[lea]["deletedDateTime"] is None
        assert "manager_id" not in docs[lea] and docs[lea]["employeeId"] == "E1"
        assert set(directory.get_users(ctx, [kai, lea], include_deleted=False)) == {lea}
        assert set(directory.get_groups(ctx, [team["id"], outer["id"]])) == {team["id"], outer["id"]}

        live_ids = sorted([lea, mo])
        assert [u["id"] for u in directory.iter_user_pages(ctx, 1)] == live_ids[:1]
        assert [u["id"] for u in directory.iter_user_pages(ctx, 5, after_id=live_ids[0])] == live_ids[1:]
        assert sorted(g["id"] for g in directory.iter_group_pages(ctx, 10)) == sorted([team["id"], outer["id"]])

        assert directory.group_member_ids(ctx, team["id"]) == [(lea, "user")]  # kai is soft-deleted
        assert directory.group_member_ids(ctx, team["id"], include_deleted=True) == sorted(
            [(kai, "user"), (lea, "user")])
        assert directory.group_member_ids(ctx, outer["id"]) == [(team["id"], "group")]
        assert directory.groups_of_member(ctx, kai) == [team["id"]]
        assert directory.groups_of_member(ctx, team["id"]) == [outer["id"]]

        assert directory.manager_id(ctx, lea) is None  # the manager is soft-deleted
        assert directory.manager_id(ctx, lea, include_deleted=True) == kai
        assert directory.manager_id(ctx, mo) is None

        assigned = directory.assignments_to(ctx, sp["id"])
        assert [(a["principalId"], a["principalType"], a["appRoleId"]) for a in assigned] == [
            (mo, "User", DEFAULT_ROLE), (team["id"], "Group", DEFAULT_ROLE)]

        assert directory.find_user_by(ctx, "employeeId", "e2")["id"] == mo
        assert directory.find_user_by(ctx, "employeeId", "E0") is None  # soft-deleted
        assert directory.find_user_by(ctx, "employeeId", "nobody") is None
        directory.update_user(ctx, mo, {"employeeId": "E1"})
        with pytest.raises(Conflict):
            directory.find_user_by(ctx, "employeeId", "E1")
        with pytest.raises(BadRequest):
            directory.find_user_by(ctx, "passwordProfile", "x")


def test_writers_validate_plain_dicts_like_the_api(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        for body in ({"userPrincipalName": "x@contoso.com", "displayName": "x", "shoeSize": 9},
                     {"userPrincipalName": "not-an-upn", "displayName": "x"},
                     {"userPrincipalName": "x@contoso.com", "displayName": "x", "usageLocation": "Norway"},
                     {"userPrincipalName": "x@contoso.com"}):
            with pytest.raises(BadRequest):
                directory.create_user(ctx, body)
        created = user(ctx, "nora", employeeHireDate="2024-03-01T09:00:00+01:00")
        assert created["employeeHireDate"] == "2024-03-01T08:00:00Z"
        with pytest.raises(BadRequest):
            directory.update_user(ctx, created["id"], {"accountEnabled": None})
        with pytest.raises(BadRequest):
            directory.set_manager(ctx, created["id"], created["id"])


def test_deleting_a_service_principal_removes_its_assignments_through_the_feed(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        sp = service_principal(ctx)
        person = user(ctx, "olga")
        assignment = directory.create_assignment(ctx, sp["id"], {"principalId": person["id"], "resourceId": sp["id"],
                                                                 "appRoleId": DEFAULT_ROLE})
        watermark = directory.latest_change_seq(ctx)
        applications.delete_service_principal(ctx, sp["id"])
        assert summary(directory.read_changes(ctx, watermark, 10)) == [
            ("user", person["id"], "assignmentRemoved",
             {"resourceId": sp["id"], "appRoleId": DEFAULT_ROLE, "assignmentId": assignment["id"]})]
        assert directory.assignments_to(ctx, sp["id"], include_deleted=True) == []


def test_migration_0002_creates_exactly_the_directory_tables(runtime):
    with runtime.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, tables.metadata) if _tables_in(d) & set(DIRECTORY_TABLES)]
    assert differences == []


def _tables_in(difference) -> set[str]:
    """The table names a compare_metadata difference is about (its shapes vary by operation)."""
    if isinstance(difference, list):  # modify_* operations: (op, schema, table, column, ...)
        return {d[2] for d in difference}
    names = set()
    for part in difference[1:]:
        if isinstance(part, str):
            names.add(part)
        elif isinstance(part, Table):
            names.add(part.name)
        elif getattr(part, "table", None) is not None:
            names.add(part.table.name)
    return names


def test_batch_writers_refuse_bad_entries_in_place_and_record_the_rest(runtime, tenant_id):
    with runtime.unit(tenant_id) as ctx:
        existing = user(ctx, "taken")
        start = directory.latest_change_seq(ctx)
        results = directory.create_users(ctx, [
            {"userPrincipalName": "ann@contoso.com", "displayName": "Ann"},
            {"userPrincipalName": "taken@contoso.com", "displayName": "Duplicate of an existing user"},
            {"userPrincipalName": "not-an-upn", "displayName": "Bad"},
            {"userPrincipalName": "ANN@contoso.com", "displayName": "Duplicate within the batch"},
            {"userPrincipalName": "ben@contoso.com", "displayName": "Ben"}])
        assert [type(r).__name__ for r in results] == ["dict", "BadRequest", "BadRequest", "BadRequest", "dict"]
        ann, ben = results[0], results[4]
        assert summary(directory.read_changes(ctx, start, 100)) == [
            ("user", ann["id"], "created", None), ("user", ben["id"], "created", None)]
        assert directory.get_user(ctx, ben["id"])["displayName"] == "Ben"
        marker = directory.latest_change_seq(ctx)
        outcome = directory.set_managers(ctx, [(ann["id"], existing["id"]), (ben["id"], "missing"),
                                               (ben["id"], ben["id"]), (ann["id"], existing["id"])])
        assert outcome[0] is True and isinstance(outcome[1], NotFound) and isinstance(outcome[2], BadRequest)
        assert outcome[3] is False  # already set by the first pair
        assert directory.manager_id(ctx, ann["id"]) == existing["id"]
        assert summary(directory.read_changes(ctx, marker, 100)) == [
            ("user", ann["id"], "managerChanged", {"managerId": existing["id"]})]
