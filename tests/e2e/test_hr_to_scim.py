"""HR → graphsync → SCIM app, end to end over HTTP: an HR system posts worker records to an
API-driven inbound job; the users it creates and changes in graphsync's directory reach a SCIM
2.0 app (scim2-server) through an outbound job's incremental cycles, which read the directory's
change feed."""
from __future__ import annotations

import contextlib
import json
import uuid

import httpx

from tests.conftest import SCIM_APP_TEMPLATE
from tests.waiting import eventually

API_APP = "557df4cf-766b-4086-85d9-55769b9c02cb"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def worker(external_id: str, login: str, name: str, title: str, department: str, manager: str | None = None,
           active: bool = True) -> dict:
    given, family = name.split()
    record = {"schemas": [CORE, ENTERPRISE], "externalId": external_id, "userName": login, "displayName": name,
              "name": {"givenName": given, "familyName": family}, "title": title, "active": active,
              "emails": [{"type": "work", "value": login, "primary": True}],
              ENTERPRISE: {"department": department}}
    if manager:
        record[ENTERPRISE]["manager"] = {"value": manager}
    return record


def upload(http: httpx.Client, url: str, *records: dict) -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": None,
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": r["externalId"], "data": r} for r in records]}
    response = http.post(url, content=json.dumps(body), headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 202, response.text


@contextlib.contextmanager
def scim_app_job(http: httpx.Client, tag: str, scim_server):
    """The SCIM app: an outbound job over every user of the directory, cycling every second,
    started and through its first cycle; paused on the way out (it would cycle for the rest of
    the session). Yields the job id."""
    app = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                    json={"displayName": f"SCIM app {tag}"}).json()
    out_sync = f"/v1.0/servicePrincipals/{app['servicePrincipal']['id']}/synchronization"
    out_job = http.post(f"{out_sync}/jobs", json={"templateId": "scim"}).json()["id"]
    assert http.put(f"{out_sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": scim_server.token},
        {"key": "SyncAll", "value": "true"}]}).status_code == 204
    assert http.patch(f"{out_sync}/jobs/{out_job}", json={"schedule": {"interval": "PT1S"}}).status_code == 204
    assert http.post(f"{out_sync}/jobs/{out_job}/start").status_code == 204
    try:
        eventually(lambda: http.get(f"{out_sync}/jobs/{out_job}").json()["status"]["lastExecution"])
        yield out_job
    finally:
        http.post(f"{out_sync}/jobs/{out_job}/pause")


def test_hr_records_reach_the_scim_app(http, scim_server):
    tag = uuid.uuid4().hex[:8]
    # the initial cycle runs on an empty directory: what follows reaches the app through the change feed
    with scim_app_job(http, tag, scim_server) as out_job:
        hr_to_scim(http, tag, scim_server, out_job)


def hr_to_scim(http: httpx.Client, tag: str, scim_server, out_job: str) -> None:
    # the HR side: an API-driven inbound job
    hr = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate", json={"displayName": f"HR {tag}"}).json()
    hr_sync = f"/v1.0/servicePrincipals/{hr['servicePrincipal']['id']}/synchronization"
    hr_job = http.post(f"{hr_sync}/jobs", json={"templateId": "API2AAD"}).json()["id"]
    assert http.post(f"{hr_sync}/jobs/{hr_job}/start").status_code == 204
    url = f"{hr_sync}/jobs/{hr_job}/bulkUpload"

    boss = worker(f"B{tag}", f"boss.{tag}@contoso.test", "Bea Boss", "Director", "Sales")
    ann = worker(f"A{tag}", f"ann.{tag}@contoso.test", "Ann Andersen", "Buyer", "Sales", manager=boss["externalId"])
    carl = worker(f"C{tag}", f"carl.{tag}@contoso.test", "Carl Carlsen", "Clerk", "Retail",
                  manager=boss["externalId"])
    upload(http, url, ann, carl)  # the manager arrives in a later request
    upload(http, url, boss)

    target_boss = eventually(lambda: scim_server.find("Users", "userName", boss["userName"]))
    target_ann = eventually(lambda: (lambda u: u if u and (u.get(ENTERPRISE) or {}).get("manager") else None)(
        scim_server.find("Users", "userName", ann["userName"])))
    assert target_ann["displayName"] == "Ann Andersen" and target_ann["title"] == "Buyer"
    assert target_ann["name"]["givenName"] == "Ann" and target_ann["name"]["familyName"] == "Andersen"
    assert target_ann["active"] is True and target_ann[ENTERPRISE]["department"] == "Sales"
    assert target_ann[ENTERPRISE]["manager"]["value"] == target_boss["id"]
    target_carl = eventually(lambda: (lambda u: u if u and (u.get(ENTERPRISE) or {}).get("manager") else None)(
        scim_server.find("Users", "userName", carl["userName"])))
    assert target_carl[ENTERPRISE]["manager"]["value"] == target_boss["id"]

    # a leaver and a mover: the next upload disables Carl and moves Ann; the SCIM app follows
    upload(http, url, dict(carl, active=False), dict(ann, title="Senior Buyer", **{ENTERPRISE: {"department": "Ops"}}))
    eventually(lambda: scim_server.find("Users", "userName", carl["userName"])["active"] is False)
    moved = eventually(lambda: (lambda u: u if u["title"] == "Senior Buyer" else None)(
        scim_server.find("Users", "userName", ann["userName"])))
    assert moved[ENTERPRISE]["department"] == "Ops"
    assert moved[ENTERPRISE]["manager"]["value"] == target_boss["id"]  # a record without manager keeps it

    # both jobs say what they did
    hr_logs = http.get("/v1.0/auditLogs/provisioning", params={"$filter": f"jobId eq '{hr_job}'", "$top": 100}).json()
    assert {(e["sourceIdentity"]["id"], e["provisioningAction"]) for e in hr_logs["value"]} >= {
        (ann["externalId"], "create"), (boss["externalId"], "create"), (carl["externalId"], "disable"),
        (ann["externalId"], "update")}
    # the outbound job logs an export once it is done (after the app answered): wait for the entry
    def out_actions() -> set[str] | None:
        out_logs = http.get("/v1.0/auditLogs/provisioning", params={"$filter": f"jobId eq '{out_job}'", "$top": 100})
        actions = {e["provisioningAction"] for e in out_logs.json()["value"]}
        return actions if actions >= {"create", "disable"} else None
    assert eventually(out_actions) >= {"create", "disable"}
    # an app's entries by its service principal: the outbound job's, none of the HR job's
    out_logs = http.get("/v1.0/auditLogs/provisioning", params={"$filter": f"jobId eq '{out_job}'", "$top": 999})
    out_sp = out_logs.json()["value"][0]["servicePrincipal"]["id"]
    by_sp = http.get("/v1.0/auditLogs/provisioning", params={"$filter": f"servicePrincipal/id eq '{out_sp}'",
                                                             "$top": 999, "$count": "true"}).json()
    assert {e["jobId"] for e in by_sp["value"]} == {out_job}
    assert by_sp["@odata.count"] >= len(out_logs.json()["value"])
