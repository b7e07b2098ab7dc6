"""Faults between the engine and the target (429 with Retry-After, 503, connection resets before
and after the target acted, stalls past the timeout) do not change the end state: every object
exactly once, with the mapped values and memberships."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import SCIM_APP_TEMPLATE
from tests.e2e.fault_proxy import FaultProxy


@pytest.fixture
def faulty_target(scim_server):
    proxy = FaultProxy(scim_server.port, [None, "429", None, "503", None, "reset", None, None, "reset-after",
                                          None, "stall", None, None], stall_seconds=2.0).start()
    yield proxy
    proxy.stop()


def wait_for(http, job_url, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        job = http.get(job_url).json()
        if predicate(job):
            return job
        assert time.monotonic() < deadline, f"timed out: {job['status']}"
        time.sleep(0.2)


def test_end_state_is_exact_despite_faults(http, scim_server, faulty_target):
    tag = uuid.uuid4().hex[:8]
    sp = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                   json={"displayName": f"faults {tag}"}).json()["servicePrincipal"]["id"]
    users = []
    for i in range(12):
        response = http.post("/v1.0/users", json={
            "accountEnabled": True, "displayName": f"User {i} {tag}", "givenName": f"U{i}", "surname": tag,
            "userPrincipalName": f"u{i}.{tag}@contoso.test", "mailNickname": f"u{i}{tag}",
            "passwordProfile": {"password": "Passw0rd!Passw0rd!"}})
        assert response.status_code == 201, response.text
        users.append(response.json())
    group = http.post("/v1.0/groups", json={"displayName": f"Team {tag}", "mailEnabled": False,
                                           "securityEnabled": True, "mailNickname": f"team{tag}"}).json()
    for user in users[:6]:
        assert http.post(f"/v1.0/groups/{group['id']}/members/$ref", json={
            "@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}).status_code == 204
    jobs_url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs"
    job_id = http.post(jobs_url, json={"templateId": "scim"}).json()["id"]
    job_url = f"{jobs_url}/{job_id}"
    assert http.put(f"/v1.0/servicePrincipals/{sp}/synchronization/secrets", json={"value": [
        {"key": "BaseAddress", "value": faulty_target.url}, {"key": "SecretToken", "value": scim_server.token},
        {"key": "SyncAll", "value": "true"}]}).status_code == 204
    assert http.patch(job_url, json={"schedule": {"interval": "PT1S"}, "synchronizationJobSettings": [
        {"name": "ScimTimeoutSeconds", "value": "1"}, {"name": "ScimConcurrency", "value": "4"}]}).status_code == 204
    assert http.post(f"{job_url}/start").status_code == 204

    # cycles go on until one finds nothing left to do (escrowed objects are retried as due)
    wait_for(http, job_url, lambda j: j["status"]["steadyStateLastAchievedTime"] != "0001-01-01T00:00:00Z"
             and (j["status"]["lastExecution"] or {}).get("countEscrowed") == 0)
    assert sum(faulty_target.injected.values()) >= 5, faulty_target.injected

    mine = [u for u in scim_server.resources("Users") if u["userName"].endswith(f".{tag}@contoso.test")]
    assert sorted(u["userName"] for u in mine) == sorted(u["userPrincipalName"] for u in users)  # once each
    by_name = {u["userName"]: u for u in mine}
    for user in users:
        target = by_name[user["userPrincipalName"]]
        assert target["displayName"] == user["displayName"] and target["active"] is True
        assert target["name"]["familyName"] == tag
    groups = [g for g in scim_server.resources("Groups") if g["displayName"] == f"Team {tag}"]
    assert len(groups) == 1
    assert {m["value"] for m in groups[0].get("members", [])} == {by_name[u["userPrincipalName"]]["id"]
                                                                  for u in users[:6]}
