"""Targets that misbehave as real SCIM services do must not make graphsync create a duplicate or
send a value twice: scim2-server with small pages and no userName uniqueness, behind a proxy
that ignores startIndex (tests/e2e/quirky_target.py), and one where every create meets a 409
because another system created the user a moment before, answered without email types."""
from __future__ import annotations

import uuid
from collections import Counter

import pytest

from tests.conftest import SCIM_APP_TEMPLATE, ScimServer
from tests.e2e.quirky_target import QuirkyTarget
from tests.waiting import eventually


def directory_users(http, tag: str, count: int) -> list[dict]:
    users = []
    for i in range(count):
        response = http.post("/v1.0/users", json={
            "accountEnabled": True, "displayName": f"Quirk {i} {tag}", "givenName": f"Q{i}", "surname": tag,
            "userPrincipalName": f"q{i}.{tag}@contoso.test", "mailNickname": f"q{i}{tag}",
            "mail": f"q{i}.{tag}@contoso.test", "passwordProfile": {"password": "Passw0rd!Passw0rd!"}})
        assert response.status_code == 201, response.text
        users.append(response.json())
    return users


def outbound_job(http, tag: str, target_url: str, token: str, interval: str = "PT1S",
                 settings: dict[str, str] | None = None) -> str:
    """A started job provisioning every user to ``target_url``, cycling every ``interval``, with
    these job ``settings``; its URL."""
    sp = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                   json={"displayName": f"quirks {tag}"}).json()["servicePrincipal"]["id"]
    jobs_url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs"
    job_url = f"{jobs_url}/{http.post(jobs_url, json={'templateId': 'scim'}).json()['id']}"
    assert http.put(f"/v1.0/servicePrincipals/{sp}/synchronization/secrets", json={"value": [
        {"key": "BaseAddress", "value": target_url}, {"key": "SecretToken", "value": token},
        {"key": "SyncAll", "value": "true"}]}).status_code == 204
    assert http.patch(job_url, json={"schedule": {"interval": interval}, "synchronizationJobSettings": [
        {"name": name, "value": value} for name, value in (settings or {}).items()]}).status_code == 204
    assert http.post(f"{job_url}/start").status_code == 204
    return job_url


def cycle_after(http, job_url: str, previous: str | None) -> dict:
    """The lastExecution of the first cycle to end after ``previous`` (an activityIdentifier)."""
    def ended():
        execution = http.get(job_url).json()["status"]["lastExecution"] or {}
        identifier = execution.get("activityIdentifier")
        return execution if identifier and identifier != previous else None
    return eventually(ended, timeout=60)


@pytest.fixture
def paging_broken():
    """Pages of 10, duplicates allowed, startIndex ignored."""
    server = ScimServer(max_page_size=10, unique_user_names=False)
    proxy = QuirkyTarget(server.url, ignores_start_index=True).start()
    yield server, proxy
    proxy.stop()
    server.stop()


def test_a_target_that_ignores_start_index_gets_no_duplicates_after_a_full_restart(http, paging_broken):
    server, proxy = paging_broken
    tag = uuid.uuid4().hex[:8]
    users = directory_users(http, tag, 25)
    job_url = outbound_job(http, tag, proxy.url, server.token)
    first = cycle_after(http, job_url, None)
    assert first["countExported"] == 25 and first["error"] is None
    assert len(server.resources("Users")) == 25 and proxy.requests["POST /Users"] == 25

    # forget every link: the next initial cycle must find the 25 users again, though the target
    # answers page 1 whatever startIndex it is asked for
    assert http.post(f"{job_url}/restart", json={"criteria": {"resetScope": "Full"}}).status_code == 204
    second = cycle_after(http, job_url, first["activityIdentifier"])
    assert second["error"] is None, second
    in_target = Counter(u["userName"] for u in server.resources("Users"))
    assert in_target == Counter(u["userPrincipalName"] for u in users)  # each once, nobody twice
    assert proxy.requests["POST /Users"] == 25  # nothing was created again
    matched = http.get("/v1.0/auditLogs/provisioning", params={
        "$filter": f"cycleId eq '{second['activityIdentifier']}'", "$top": 100}).json()["value"]
    assert len(matched) == 25 and {e["provisioningAction"] for e in matched} <= {"other", "update"}
    assert all(e["provisioningStatusInfo"]["status"] != "failure" for e in matched)


@pytest.fixture
def conflicting(scim_server):
    proxy = QuirkyTarget(scim_server.url, races_creates=True, drops_email_type=True).start()
    yield scim_server, proxy
    proxy.stop()


def test_a_create_that_meets_a_409_updates_only_what_differs(http, conflicting):
    server, proxy = conflicting
    tag = uuid.uuid4().hex[:8]
    users = directory_users(http, tag, 3)
    job_url = outbound_job(http, tag, proxy.url, server.token)
    first = cycle_after(http, job_url, None)
    assert first["error"] is None and first["countEscrowed"] == 0, first
    assert sorted(proxy.raced) == sorted(u["userPrincipalName"] for u in users)  # every create met a 409
    for user in users:
        found = server.find("Users", "userName", user["userPrincipalName"])
        assert found["displayName"] == user["displayName"]  # what differed was updated
        assert [e["value"] for e in found["emails"]] == [user["mail"]]  # the work email is there once
    entries = http.get("/v1.0/auditLogs/provisioning", params={
        "$filter": f"cycleId eq '{first['activityIdentifier']}'", "$top": 100}).json()["value"]
    assert sorted(e["provisioningAction"] for e in entries) == ["update"] * 3
    for entry in entries:
        changed = {p["displayName"] for p in entry["modifiedProperties"]}
        assert "displayName" in changed and not any(name.startswith("emails") for name in changed)
