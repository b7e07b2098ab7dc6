"""The engine on in-memory ports and a virtual clock: resumable cycles, escrow back-off over
weeks in milliseconds, credential failures."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from graphsync import expressions, templates
from graphsync.clock import ManualClock
from graphsync.connectors.scim import RetryPolicy, ScimClient
from graphsync.engine import logs
from graphsync.engine.cycle import CredentialsRejected, Cycle, CycleInterrupted, CycleSettings
from graphsync.engine.mapping import compile_schema
from graphsync.engine.ports import Escrow, Link, SourceChange
from graphsync.testing import InMemoryScimTarget

RULES = compile_schema(templates.builtin_template("scim")["schema"])


def user(i: int, **extra) -> dict:
    return {"id": f"u{i:04d}", "userPrincipalName": f"user{i}@contoso.test", "displayName": f"User {i}",
            "givenName": "U", "surname": str(i), "mailNickname": f"user{i}", "accountEnabled": True, **extra}


class MemorySource:
    def __init__(self, users: list[dict]):
        self.users = {u["id"]: u for u in users}
        self.feed: list[SourceChange] = []

    def latest_seq(self):
        return self.feed[-1].seq if self.feed else 0

    def count(self, object_type):
        return len(self.users) if object_type == "user" else 0

    def changes(self, after_seq, limit):
        return [c for c in self.feed if c.seq > after_seq][:limit]

    def page(self, object_type, after_id, size):
        if object_type != "user":
            return []
        ids = sorted(i for i, doc in self.users.items() if (after_id is None or i > after_id)
                     and not doc.get("deletedDateTime"))[:size]  # pages hold live objects, as the directory's
        return [self.users[i] for i in ids]

    def get(self, object_type, ids):
        return {i: self.users[i] for i in ids if i in self.users} if object_type == "user" else {}

    def members(self, group_id):
        return []

    def members_of(self, group_ids):
        return {g: self.members(g) for g in group_ids}

    def groups_of(self, member_ids):
        return set()

    def managers_of(self, user_ids):
        return {}

    def managed_users(self, after_id, limit):
        return []

    def assigned(self):
        return set(self.users), set()

    def change(self, user_id, **values):
        self.users[user_id].update(values)
        self.feed.append(SourceChange(len(self.feed) + 1, "user", user_id, "updated", None))


class MemoryStore:
    def __init__(self):
        self.link_rows: dict[tuple[str, str], Link] = {}
        self.escrow_rows: dict[tuple[str, str], Escrow] = {}
        self.logs: list[dict] = []

    def commit(self, *, links=(), dropped=(), cleared=(), escrows=(), logs=()):
        self.save_links(links)
        for object_type, sid in dropped:
            self.drop_links(object_type, [sid])
        self.clear_escrows(cleared)
        self.save_escrows(escrows)
        self.write_logs(logs)

    def links(self, object_type, source_ids):
        return {s: self.link_rows[(object_type, s)] for s in source_ids if (object_type, s) in self.link_rows}

    def link_ids(self, object_type, after, upto, limit=None):
        ids = sorted(s for t, s in self.link_rows if t == object_type
                     and (after is None or s > after) and (upto is None or s <= upto))
        return ids[:limit] if limit else ids

    def display_names(self, object_type, source_ids):
        return {s: link.exported.get("displayName") or s for s, link in self.links(object_type, source_ids).items()}

    def target_ids(self, object_type, source_ids):
        return {s: link.target_id for s, link in self.links(object_type, source_ids).items()}

    def save_links(self, links):
        self.link_rows.update({(link.object_type, link.source_id): link for link in links})

    def drop_links(self, object_type, source_ids):
        for s in source_ids:
            self.link_rows.pop((object_type, s), None)

    def escrows_due(self, now):
        return [e for e in self.escrow_rows.values() if e.next_attempt <= now]

    def save_escrows(self, escrows):
        self.escrow_rows.update({(e.object_type, e.source_id): e for e in escrows})

    def clear_escrows(self, keys):
        for key in keys:
            self.escrow_rows.pop(key, None)

    def write_logs(self, entries):
        self.logs += [logs.expand(e) for e in entries]  # as the audit API shows them


SETTINGS = CycleSettings(tenant_id="t", job_id="j", service_principal_id="sp", service_principal_name="App",
                         sync_all=True, skip_out_of_scope_deletions=False)


def run(source, store, target, clock, *, initial, watermark=0, should_stop=lambda: False, token=None,
        stop_check_every=None):
    async def go():
        client = ScimClient("http://scim.test", token or target.token, transport=httpx.ASGITransport(app=target),
                            retry=RetryPolicy(attempts=2, base_delay=0), sleep=lambda _: asyncio.sleep(0))
        async with client:
            cycle = Cycle(RULES, SETTINGS, source, client, store, clock.now,
                          expressions.EvaluationContext(clock=clock.now), should_stop=should_stop)
            if stop_check_every is not None:
                cycle.stop_check_every = stop_check_every
            return await cycle.run(initial=initial, watermark=watermark)
    return asyncio.run(go())


def test_a_paused_cycle_stops_within_a_page_and_resumes_without_duplicates():
    source, store, target, clock = MemorySource([user(i) for i in range(450)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    with pytest.raises(CycleInterrupted):  # paused once 50 users are in the target
        run(source, store, target, clock, initial=True, stop_check_every=1,
            should_stop=lambda: len(target.resources["Users"]) >= 50)
    created = len(target.resources["Users"])
    # the objects already under way finished; no other started, though three pages were in flight
    assert 50 <= created < 100
    assert len(store.link_rows) == created  # everything sent is linked
    result = run(source, store, target, clock, initial=True)
    assert len(target.resources["Users"]) == 450 and len(store.link_rows) == 450
    assert result.exported == 450 - created  # the linked ones matched their links: nothing sent again


def test_a_pause_before_a_page_starts_sends_nothing_of_it():
    source, store, target, clock = MemorySource([user(i) for i in range(450)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    with pytest.raises(CycleInterrupted):
        run(source, store, target, clock, initial=True, should_stop=lambda: True)
    assert target.resources["Users"] == {} and store.link_rows == {}


def test_links_lost_after_a_crash_are_matched_not_duplicated():
    source, store, target, clock = MemorySource([user(i) for i in range(50)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    run(source, store, target, clock, initial=True)
    store.link_rows.clear()  # as if the process died after the creates, before saving the links
    result = run(source, store, target, clock, initial=True)
    assert len(target.resources["Users"]) == 50 and len(store.link_rows) == 50
    assert result.exported == 0


def test_an_initial_cycle_disables_soft_deleted_and_deletes_hard_deleted_objects():
    """After a restart, linked objects missing from the live pages are looked up: a soft-deleted
    user is disabled in the target, a hard-deleted one is deleted."""
    source, store, target, clock = MemorySource([user(i) for i in range(450)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    run(source, store, target, clock, initial=True)
    soft, hard = store.link_rows[("user", "u0201")].target_id, store.link_rows[("user", "u0399")].target_id
    source.users["u0201"]["deletedDateTime"] = "2026-11-01T00:00:00Z"
    del source.users["u0399"]
    result = run(source, store, target, clock, initial=True)
    assert target.resources["Users"][soft]["active"] is False
    assert hard not in target.resources["Users"] and ("user", "u0399") not in store.link_rows
    assert len(target.resources["Users"]) == 449 and result.exported == 2


def test_incremental_cycle_sends_only_what_changed():
    source, store, target, clock = MemorySource([user(i) for i in range(20)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    first = run(source, store, target, clock, initial=True)
    source.change("u0003", displayName="Renamed")
    calls = target.calls
    result = run(source, store, target, clock, initial=False, watermark=first.watermark)
    assert result.imported == 1 and result.exported == 1 and target.calls == calls + 1  # one PATCH
    assert target.resources["Users"][store.link_rows[("user", "u0003")].target_id]["displayName"] == "Renamed"


def test_escrow_retries_on_the_documented_back_off_then_gives_up():
    clock = ManualClock()
    rejected = {"user7@contoso.test"}
    target = InMemoryScimTarget(fail=lambda method, kind, body: 400 if method == "POST"
                                and (body or {}).get("userName") in rejected else None)
    source, store = MemorySource([user(i) for i in range(10)]), MemoryStore()
    result = run(source, store, target, clock, initial=True)
    assert result.escrowed == 1 and len(target.resources["Users"]) == 9
    escrow = store.escrow_rows[("user", "u0007")]
    began = escrow.first_failure
    assert escrow.attempts == 1 and escrow.next_attempt == began + timedelta(hours=6)
    seen = []
    for hours in (6, 12, 24, 48, 72):
        clock.current = began + timedelta(hours=hours)
        run(source, store, target, clock, initial=False, watermark=0)
        escrow = store.escrow_rows[("user", "u0007")]
        seen.append((escrow.attempts, escrow.next_attempt - began))
    assert seen == [(2, timedelta(hours=12)), (3, timedelta(hours=24)), (4, timedelta(hours=48)),
                    (5, timedelta(hours=72)), (6, timedelta(hours=96))]
    # not due before its time: nothing is retried at 73 h
    clock.current = began + timedelta(hours=73)
    run(source, store, target, clock, initial=False)
    assert store.escrow_rows[("user", "u0007")].attempts == 6
    # after 28 days the entry is given up (kept for reporting, never due again)
    clock.current = began + timedelta(days=29)
    store.escrow_rows[("user", "u0007")].next_attempt = clock.current
    run(source, store, target, clock, initial=False)
    assert store.escrow_rows[("user", "u0007")].next_attempt.year == 9999
    # once the target accepts it, the escrow clears
    rejected.clear()
    store.escrow_rows[("user", "u0007")].next_attempt = clock.current
    run(source, store, target, clock, initial=False)
    assert ("user", "u0007") not in store.escrow_rows and len(target.resources["Users"]) == 10


def test_rejected_credentials_stop_the_cycle():
    source, store, clock = MemorySource([user(1)]), MemoryStore(), ManualClock()
    with pytest.raises(CredentialsRejected):
        run(source, store, InMemoryScimTarget(token="right"), clock, initial=True, token="wrong")


def test_a_failed_reference_is_escrowed_and_retried():
    """A group whose member update fails is escrowed like any object and fixed on its retry."""
    class Grouped(MemorySource):
        def page(self, object_type, after_id, size):
            if object_type == "group":
                return [] if after_id else [{"id": "g1", "displayName": "Team", "mailNickname": "team"}]
            return super().page(object_type, after_id, size)

        def get(self, object_type, ids):
            if object_type == "group":
                return {"g1": {"id": "g1", "displayName": "Team", "mailNickname": "team"}} if "g1" in ids else {}
            return super().get(object_type, ids)

        def count(self, object_type):
            return 1 if object_type == "group" else super().count(object_type)

        def members(self, group_id):
            return [("u0001", "user"), ("u0002", "user")]

    clock = ManualClock()
    broken = {"on": True}
    target = InMemoryScimTarget(fail=lambda method, kind, body: 400 if method == "PATCH" and kind == "Groups"
                                and broken["on"] else None)
    source, store = Grouped([user(1), user(2)]), MemoryStore()
    result = run(source, store, target, clock, initial=True)
    assert result.escrowed == 1 and ("group", "g1") in store.escrow_rows
    broken["on"] = False
    clock.advance(timedelta(hours=6))
    run(source, store, target, clock, initial=False, watermark=result.watermark)
    assert ("group", "g1") not in store.escrow_rows
    members = store.link_rows[("group", "g1")].exported["members"]
    assert sorted(members) == sorted(store.link_rows[("user", u)].target_id for u in ("u0001", "u0002"))


def test_redacted_values_flow_to_the_target_but_logs_show_redact():
    import copy
    schema = copy.deepcopy(templates.builtin_template("scim")["schema"])
    users = next(m for m in schema["synchronizationRules"][0]["objectMappings"] if m["sourceObjectName"] == "User")
    title = next(a for a in users["attributeMappings"] if a["targetAttributeName"] == "title")
    title["source"] = expressions.to_source(expressions.parse("Redact([jobTitle])"))
    rules = compile_schema(schema)
    source, store, target, clock = MemorySource([user(1, jobTitle="Secret agent")]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()

    async def go():
        async with ScimClient("http://scim.test", None, transport=target.transport()) as client:
            cycle = Cycle(rules, SETTINGS, source, client, store, clock.now, expressions.EvaluationContext())
            return await cycle.run(initial=True, watermark=0)
    first = asyncio.run(go())
    (created,) = target.resources["Users"].values()
    assert created["title"] == "Secret agent"
    logged = {p["displayName"]: p["newValue"] for p in store.logs[0]["modifiedProperties"]}
    assert logged["title"] == "[Redact]" and "Secret agent" not in str(store.logs)
    source.change("u0001", jobTitle="Spymaster")

    async def again():
        async with ScimClient("http://scim.test", None, transport=target.transport()) as client:
            cycle = Cycle(rules, SETTINGS, source, client, store, clock.now, expressions.EvaluationContext())
            return await cycle.run(initial=False, watermark=first.watermark)
    asyncio.run(again())
    update = next(e for e in store.logs if e["provisioningAction"] == "update")
    assert update["modifiedProperties"] == [{"displayName": "title", "oldValue": "[Redact]", "newValue": "[Redact]"}]
    assert "Spymaster" not in str(store.logs) and "Secret agent" not in str(store.logs)


def test_creates_go_in_bulk_requests_when_the_target_supports_them():
    source, store, target, clock = MemorySource([user(i) for i in range(450)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    target.unique["Users"]["user7@contoso.test"] = "someone-else"  # one create will meet a 409

    async def go():
        async with ScimClient("http://scim.test", None, transport=target.transport()) as client:
            assert await client.enable_bulk(100) == 100
            cycle = Cycle(RULES, SETTINGS, source, client, store, clock.now, expressions.EvaluationContext())
            return await cycle.run(initial=True, watermark=0)
    result = asyncio.run(go())
    assert len(target.resources["Users"]) == 449 and len(store.link_rows) == 449
    assert 5 <= target.bulk_calls <= 10  # 449 creates in batches of up to 100, not 449 POSTs
    assert result.escrowed == 1  # the 409 found no object to match (the stand-in has no resource)
    assert all(link.target_id in target.resources["Users"] for link in store.link_rows.values())


def test_the_connector_honours_proxy_settings_from_the_environment(monkeypatch):
    """The connector talks to its transport directly, so it reads HTTP(S)_PROXY and NO_PROXY
    itself, as an httpx client would."""
    from graphsync.connectors.scim import _environment_proxy
    for name in ("HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    assert _environment_proxy("https://scim.example.com/scim/v2") == "http://proxy.corp:3128"
    assert _environment_proxy("https://app.internal.corp/scim") is None
    assert _environment_proxy("http://scim.example.com/scim") is None  # no HTTP_PROXY set


def test_a_failed_object_is_logged_with_the_action_it_attempted():
    source, store, clock = MemorySource([user(i) for i in range(4)]), MemoryStore(), ManualClock()
    broken: dict[str, int] = {}
    target = InMemoryScimTarget(fail=lambda method, kind, body: broken.get(method))
    broken["POST"] = 400
    first = run(source, store, target, clock, initial=True)
    assert {(e["provisioningAction"], e["provisioningStatusInfo"]["status"]) for e in store.logs} == {
        ("create", "failure")}
    broken.clear()
    first = run(source, store, target, clock, initial=True)
    broken["PATCH"] = 501  # not implemented: permanent, so asked once, not retried
    source.change("u0001", displayName="Renamed")
    source.change("u0002", accountEnabled=False)
    calls = target.calls
    run(source, store, target, clock, initial=False, watermark=first.watermark)
    failures = {e["sourceIdentity"]["id"]: e for e in store.logs[-2:]}
    assert failures["u0001"]["provisioningAction"] == "update"
    assert failures["u0002"]["provisioningAction"] == "disable"
    error = failures["u0001"]["provisioningStatusInfo"]["errorInformation"]
    assert error["errorCode"] == "NotImplemented" and "HTTP 501 (Not Implemented)" in error["reason"]
    assert target.calls == calls + 2  # one PATCH each


def test_beta_shows_a_failures_details_in_its_deprecated_status_info():
    from graphsync.api.versions import provisioning_log_for
    source, store, clock = MemorySource([user(1)]), MemoryStore(), ManualClock()
    run(source, store, InMemoryScimTarget(fail=lambda method, kind, body: 400 if method == "POST" else None), clock,
        initial=True)
    (entry,) = store.logs
    beta = provisioning_log_for("beta", entry)
    assert beta["statusInfo"] == {
        "@odata.type": "#microsoft.graph.statusDetails", "status": "failure", "errorCode": "BadRequest",
        "reason": entry["provisioningStatusInfo"]["errorInformation"]["reason"], "additionalDetails": None,
        "errorCategory": "nonServiceFailure", "recommendedAction": None}
    assert "statusInfo" not in provisioning_log_for("v1.0", entry)


def test_a_scoping_filter_out_of_its_time_budget_fails_that_object_only():
    import copy
    schema = copy.deepcopy(templates.builtin_template("scim")["schema"])
    users = next(m for m in schema["synchronizationRules"][0]["objectMappings"] if m["sourceObjectName"] == "User")
    users["scope"] = {"groups": [{"clauses": [{"identifier": "c1", "operatorName": "REGEX MATCH",
                                               "sourceOperandName": "displayName",
                                               "targetOperand": {"values": ["^(a|aa)+$"]}}]}]}
    rules = compile_schema(schema)
    slow = user(1, displayName="a" * 40 + "b")  # (a|aa)+ tries ~10^8 ways before it fails
    source, store, target, clock = MemorySource([slow, user(2, displayName="aaaa")]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()

    async def go():
        async with ScimClient("http://scim.test", None, transport=target.transport()) as client:
            return await Cycle(rules, SETTINGS, source, client, store, clock.now,
                               expressions.EvaluationContext()).run(initial=True, watermark=0)
    result = asyncio.run(go())
    assert result.escrowed == 1 and len(target.resources["Users"]) == 1  # the other one went on
    failed = next(e for e in store.logs if e["provisioningStatusInfo"]["status"] == "failure")
    assert failed["sourceIdentity"]["id"] == "u0001"
    assert failed["provisioningStatusInfo"]["errorInformation"]["reason"].startswith("A scoping filter failed")


def test_buckets_and_their_finish_do_what_one_initial_cycle_does():
    """Three id ranges run one after the other (as workers would at once), then the finish: every
    user created once, a soft-deleted linked user disabled by its range, a hard-deleted one deleted."""
    source, store, target, clock = MemorySource([user(i) for i in range(450)]), MemoryStore(), \
        InMemoryScimTarget(), ManualClock()
    run(source, store, target, clock, initial=True)
    store.link_rows.pop(("user", "u0100"))  # as if lost: it must be matched, not created again
    soft, hard = store.link_rows[("user", "u0201")].target_id, store.link_rows[("user", "u0399")].target_id
    source.users["u0201"]["deletedDateTime"] = "2026-11-01T00:00:00Z"
    del source.users["u0399"]
    source.users["u0449"]["displayName"] = "Renamed"
    calls = target.calls

    async def go():
        async with ScimClient("http://scim.test", None, transport=target.transport()) as client:
            results = []
            for after, upto in ((None, "u0150"), ("u0150", "u0300"), ("u0300", None)):
                cycle = Cycle(RULES, SETTINGS, source, client, store, clock.now, expressions.EvaluationContext())
                results.append(await cycle.run_bucket(after, upto, cycle_id="c", watermark=0, total=150))
            cycle = Cycle(RULES, SETTINGS, source, client, store, clock.now, expressions.EvaluationContext())
            results.append(await cycle.run(initial=True, watermark=0, cycle_id="c", users_done=True))
            return results
    results = asyncio.run(go())
    assert [r.imported for r in results] == [151, 150, 149, 0]  # each user in exactly one range
    assert sum(r.exported for r in results) == 3  # the disable, the delete, the rename
    assert target.resources["Users"][soft]["active"] is False and hard not in target.resources["Users"]
    assert len(target.resources["Users"]) == 449 and len(store.link_rows) == 449  # u0100 matched, not created
    assert target.calls - calls < 60  # reads by id, the three changes; no create
