"""API-driven inbound provisioning through raw HTTP: ``POST …/jobs/{id}/bulkUpload`` with the SCIM
bulk payloads of the Graph documentation, on SQLite and PostgreSQL. Records are staged and
answered 202; the running job applies them to the directory and logs every record."""
from __future__ import annotations

import copy
import csv
import json
import time
import uuid
from typing import Any, Callable

import httpx
import pytest

from graphsync import expressions
from tests.conftest import token_for
from tests.waiting import eventually

API_APP = "557df4cf-766b-4086-85d9-55769b9c02cb"  # "API-driven provisioning to Microsoft Entra ID"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_JSON = {"Content-Type": "application/scim+json"}


def sample_record(external_id: str, user_name: str, display_name: str, given: str, title: str,
                  manager: str | None) -> dict:
    """A record shaped as in example 1 of "Perform bulkUpload"."""
    record = {
        "schemas": [CORE, ENTERPRISE], "externalId": external_id, "userName": user_name,
        "name": {"formatted": f"Ms. {given} J Jensen, III", "familyName": "Jensen", "givenName": given,
                 "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": display_name, "nickName": given,
        "emails": [{"value": user_name.lower(), "type": "work", "primary": True}],
        "addresses": [{"type": "work", "streetAddress": "234300 Universal City Plaza", "locality": "Hollywood",
                       "region": "CA", "postalCode": "91608", "country": "USA",
                       "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": True}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "userType": "Employee", "title": title, "preferredLanguage": "en-US", "locale": "en-US",
        "timezone": "America/Los_Angeles", "active": True,
        ENTERPRISE: {"employeeNumber": external_id, "costCenter": "4130", "organization": "Universal Studios",
                     "division": "Theme Park", "department": "Tour Operations"},
    }
    if manager:
        record[ENTERPRISE]["manager"] = {"value": manager, "displayName": "John Smith"}
    return record


def bulk(*records: dict) -> dict:
    return {"schemas": [BULK], "Operations": [
        {"method": "POST", "bulkId": r["externalId"], "path": "/Users", "data": r} for r in records],
        "failOnErrors": None}


class Inbound:
    """An API-driven inbound app with one API2AAD job, for one test."""

    def __init__(self, http: httpx.Client, root: str = "servicePrincipals", settings: list | None = None):
        self.http = http
        created = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate", json={"displayName": "Workday"})
        assert created.status_code == 201, created.text
        self.sp = created.json()["servicePrincipal"]
        owner = self.sp["id"] if root == "servicePrincipals" else created.json()["application"]["id"]
        self.sync = f"/v1.0/{root}/{owner}/synchronization"
        body: dict[str, Any] = {"templateId": "API2AAD"}
        if settings:
            body["synchronizationJobSettings"] = settings
        job = http.post(f"{self.sync}/jobs", json=body)
        assert job.status_code == 201, job.text
        self.job_id = job.json()["id"]
        self.job = f"{self.sync}/jobs/{self.job_id}"
        self.url = f"{self.job}/bulkUpload"
        self.tag = uuid.uuid4().hex[:6]

    def start(self) -> Inbound:
        assert self.http.post(f"{self.job}/start").status_code == 204
        return self

    def upload(self, body: Any, *, headers: dict | None = None, client: httpx.Client | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return (client or self.http).post(self.url, content=content, headers=headers or SCIM_JSON)

    def accepted(self, *records: dict) -> httpx.Response:
        response = self.upload(bulk(*records))
        assert response.status_code == 202, response.text
        return response

    def status(self) -> dict:
        return self.http.get(self.job).json()["status"]

    def logs(self, **filters: str) -> list[dict]:
        clauses = [f"jobId eq '{self.job_id}'"] + [f"{k.replace('__', '/')} eq '{v}'" for k, v in filters.items()]
        response = self.http.get("/v1.0/auditLogs/provisioning", params={"$filter": " and ".join(clauses),
                                                                         "$top": 999})
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def user(self, employee_id: str) -> dict | None:
        found = self.http.get("/v1.0/users", params={"$filter": f"employeeId eq '{employee_id}'"}).json()["value"]
        return found[0] if found else None

    def manager_of(self, user_id: str) -> str | None:
        response = self.http.get(f"/v1.0/users/{user_id}/manager")
        return response.json()["id"] if response.status_code == 200 else None

    def put_schema(self, change: Callable[[dict], None]) -> None:
        schema = self.http.get(f"{self.job}/schema").json()
        change(schema)
        response = self.http.put(f"{self.job}/schema", json=schema)
        assert response.status_code == 204, response.text


def processed(inbound: Inbound, external_id: str, count: int = 1) -> list[dict]:
    """The log entries of a worker, once it has ``count`` of them."""
    return eventually(lambda: (lambda entries: entries if len(entries) >= count else None)(
        inbound.logs(sourceIdentity__id=external_id)))


def mapping(schema: dict) -> dict:
    return schema["synchronizationRules"][0]["objectMappings"][0]


def step(entry: dict, name: str) -> dict:
    return next(s for s in entry["provisioningSteps"] if s["name"] == name)


# ------------------------------------------------------------------------------------------------

def test_documented_sample_creates_the_workers_and_their_manager_arrives_later(http):
    hr = Inbound(http).start()
    babs = sample_record(f"7{hr.tag}84", f"bjensen.{hr.tag}@example.com", "Babs Jensen", "Barbara", "Tour Guide",
                         manager=f"8{hr.tag}07")
    kathy = sample_record(f"7{hr.tag}85", f"Kjensen.{hr.tag}@example.com", "Kathy Jensen", "Kathy", "Tour Lead",
                          manager=babs["externalId"])
    response = hr.accepted(babs, kathy)

    # 202 with an absolute Location that lists this job's provisioning logs
    location = response.headers["Location"]
    assert location.startswith(str(http.base_url).rstrip("/") + "/v1.0/auditLogs/provisioning?")
    assert response.content == b""
    processed(hr, kathy["externalId"])
    listed = http.get(location)
    assert listed.status_code == 200, listed.text
    assert {e["sourceIdentity"]["id"] for e in listed.json()["value"]} == {babs["externalId"], kathy["externalId"]}
    assert {e["jobId"] for e in listed.json()["value"]} == {hr.job_id}

    user = hr.user(babs["externalId"])
    assert {k: user[k] for k in ("displayName", "givenName", "surname", "userPrincipalName", "mailNickname",
                                 "jobTitle", "department", "city", "state", "postalCode", "country",
                                 "streetAddress", "businessPhones", "preferredLanguage", "accountEnabled")} == {
        "displayName": "Babs Jensen", "givenName": "Barbara", "surname": "Jensen",
        "userPrincipalName": f"bjensen.{hr.tag}@example.com", "mailNickname": f"bjensen.{hr.tag}",
        "jobTitle": "Tour Guide", "department": "Tour Operations", "city": "Hollywood", "state": "CA",
        "postalCode": "91608", "country": "USA", "streetAddress": "234300 Universal City Plaza",
        "businessPhones": ["555-555-5555"], "preferredLanguage": "en-US", "accountEnabled": True}
    kathy_user = hr.user(kathy["externalId"])
    assert hr.manager_of(kathy_user["id"]) == user["id"]  # resolved in the same request
    assert hr.manager_of(user["id"]) is None  # 8…07 has not been sent yet

    [created] = hr.logs(sourceIdentity__id=babs["externalId"])
    assert created["provisioningAction"] == "create" and created["provisioningStatusInfo"]["status"] == "success"
    assert created["sourceSystem"]["displayName"] == "API" and created["targetIdentity"]["id"] == user["id"]
    assert created["sourceIdentity"]["identityType"] == ENTERPRISE
    assert [s["name"] for s in created["provisioningSteps"]] == [
        "EntryImportAdd", "EntrySynchronizationScoping", "EntrySynchronizationAdd", "EntrySynchronizationSkip",
        "EntryExportAdd"]
    skip = step(created, "EntrySynchronizationSkip")
    assert skip["details"]["SkipReason"] == "UnableToResolveReferenceAttributeValue"
    assert skip["details"][f"8{hr.tag}07"] == "manager Add"
    modified = {p["displayName"]: p["newValue"] for p in created["modifiedProperties"]}
    assert modified["employeeId"] == babs["externalId"] and modified["accountEnabled"] == "True"
    assert modified["userPrincipalName"] == f"bjensen.{hr.tag}@example.com"

    # the manager's record comes in a later request: Babs gets her manager, logged as an update
    john = sample_record(f"8{hr.tag}07", f"jsmith.{hr.tag}@example.com", "John Smith", "John", "Director", None)
    hr.accepted(john)
    john_user = eventually(lambda: hr.user(john["externalId"]))
    assert eventually(lambda: hr.manager_of(user["id"])) == john_user["id"]
    update = next(e for e in processed(hr, babs["externalId"], 2) if e["provisioningAction"] == "update")
    assert update["modifiedProperties"] == [{"displayName": "manager", "oldValue": None, "newValue": john_user["id"]}]


def test_a_worker_whose_manager_is_already_provisioned_is_created_with_the_manager(http):
    """The manager was sent in an earlier request: the worker's user is created with its manager
    (one write), logged on the create, with no unresolved-reference step."""
    hr = Inbound(http).start()
    boss = sample_record(f"9{hr.tag}01", f"boss.{hr.tag}@example.com", "The Boss", "Boss", "Director", None)
    hr.accepted(boss)
    boss_user = eventually(lambda: hr.user(boss["externalId"]))
    worker = sample_record(f"9{hr.tag}02", f"worker.{hr.tag}@example.com", "A Worker", "Worker", "Guide",
                           manager=boss["externalId"])
    hr.accepted(worker)
    [created] = processed(hr, worker["externalId"])
    worker_user = hr.user(worker["externalId"])
    assert hr.manager_of(worker_user["id"]) == boss_user["id"]
    assert created["provisioningAction"] == "create" and created["provisioningStatusInfo"]["status"] == "success"
    assert "EntrySynchronizationSkip" not in [s["name"] for s in created["provisioningSteps"]]
    assert {"displayName": "manager", "oldValue": None, "newValue": boss_user["id"]} in created["modifiedProperties"]


def test_documented_update_sample_disables_a_directory_user_matched_on_employee_id(http):
    hr = Inbound(http).start()
    employee_id = f"71{hr.tag[:5]}"
    existing = http.post("/v1.0/users", json={
        "accountEnabled": True, "displayName": "Existing Worker", "userPrincipalName": f"w{hr.tag}@contoso.test",
        "mailNickname": f"w{hr.tag}", "employeeId": employee_id, "department": "Tour Operations",
        "passwordProfile": {"password": "Passw0rd!Passw0rd!"}})
    assert existing.status_code == 201, existing.text
    hr.accepted({"schemas": [CORE, ENTERPRISE], "externalId": employee_id, "active": False,
                 ENTERPRISE: {"department": "Tour Ops"}})
    [entry] = processed(hr, employee_id)
    user = http.get(f"/v1.0/users/{existing.json()['id']}").json()
    assert user["accountEnabled"] is False and user["department"] == "Tour Ops"
    assert user["displayName"] == "Existing Worker"  # what the record does not carry stays
    assert entry["provisioningAction"] == "disable" and entry["targetIdentity"]["id"] == user["id"]
    assert {(p["displayName"], p["oldValue"], p["newValue"]) for p in entry["modifiedProperties"]} == {
        ("accountEnabled", "True", "False"), ("department", "Tour Operations", "Tour Ops")}
    assert "matched on employeeId" in step(entry, "EntrySynchronizationUpdate")["description"]

    # active again: enabled (an update); the same record once more changes nothing
    hr.accepted({"schemas": [CORE], "externalId": employee_id, "active": True})
    enabled = next(e for e in processed(hr, employee_id, 2) if e["id"] != entry["id"])
    assert enabled["provisioningAction"] == "update"
    assert http.get(f"/v1.0/users/{user['id']}").json()["accountEnabled"] is True
    hr.accepted({"schemas": [CORE], "externalId": employee_id, "active": True})
    again = [e for e in processed(hr, employee_id, 3) if e["id"] not in (entry["id"], enabled["id"])][0]
    assert again["provisioningAction"] == "other" and again["provisioningStatusInfo"]["status"] == "skipped"
    assert again["modifiedProperties"] == []


def test_custom_extension_attributes_flow_once_declared_and_mapped(http):
    hr = Inbound(http).start()

    def extend(schema: dict) -> None:
        api_user = schema["directories"][0]["objects"][0]
        for name in ("urn:contoso:employee:HireDate", "urn:contoso:employee:JobCode"):
            api_user["attributes"].append({
                "anchor": False, "caseExact": False, "flowNullValues": False, "multivalued": False,
                "mutability": "ReadWrite", "name": name, "required": False, "type": "String", "apiExpressions": [],
                "metadata": [], "referencedObjects": []})
        rows = [m for m in mapping(schema)["attributeMappings"] if m["targetAttributeName"] != "jobTitle"]
        for target, expression in (("employeeHireDate", "[urn:contoso:employee:HireDate]"),
                                   ("jobTitle", 'Join("", [title], " (", [urn:contoso:employee:JobCode], ")")')):
            rows.append({"targetAttributeName": target, "flowType": "Always", "matchingPriority": 0,
                         "defaultValue": None, "source": expressions.to_source(expressions.parse(expression))})
        mapping(schema)["attributeMappings"] = rows

    hr.put_schema(extend)
    record = sample_record(f"9{hr.tag}", f"hire.{hr.tag}@example.com", "New Hire", "Nina", "Tour Guide", None)
    record["schemas"].append("urn:contoso:employee")
    record["urn:contoso:employee"] = {"HireDate": "2021-05-01T00:00:00-05:00", "JobCode": "AB-1002"}
    hr.accepted(record)
    processed(hr, record["externalId"])
    user = hr.user(record["externalId"])
    assert user["jobTitle"] == "Tour Guide (AB-1002)"
    assert user["employeeHireDate"] == "2021-05-01T05:00:00Z"


def test_csv2scim_shaped_payloads_with_a_repeated_bulk_id_are_applied_record_by_record(http):
    """The payloads of Microsoft's CSV2SCIM samples repeat one bulkId, write the path "/users" and the
    attribute "username" in lower case: each record is still applied on its own."""
    hr = Inbound(http).start()
    records = [{"schemas": [CORE], "externalId": f"{i}{hr.tag}", "username": f"csv{i}.{hr.tag}@example.com",
                "displayName": f"Csv Worker {i}", "name": {"givenName": "Csv", "familyName": f"Worker{i}"},
                "active": True} for i in range(2)]
    body = {"schemas": [BULK], "failOnErrors": None, "Operations": [
        {"method": "POST", "bulkId": "a6861ef2-c94b-4c96-85e0-27c59c0537eb", "path": "/users", "data": r}
        for r in records]}
    assert hr.upload(body).status_code == 202
    for i, record in enumerate(records):
        user = eventually(lambda: hr.user(record["externalId"]))
        assert (user["userPrincipalName"], user["surname"]) == (f"csv{i}.{hr.tag}@example.com", f"Worker{i}")


def test_records_are_applied_in_order_within_a_request(http):
    hr = Inbound(http).start()
    worker = sample_record(f"3{hr.tag}", f"order.{hr.tag}@example.com", "Order Worker", "Olga", "First title",
                           manager=f"4{hr.tag}")
    boss = sample_record(f"4{hr.tag}", f"boss.{hr.tag}@example.com", "The Boss", "Bo", "Boss", None)
    retitled = dict(copy.deepcopy(worker), title="Second title")
    body = bulk(worker, boss)
    body["Operations"].append({"method": "POST", "bulkId": "again", "path": "/Users", "data": retitled})
    response = hr.upload(body)
    assert response.status_code == 202, response.text
    entries = processed(hr, worker["externalId"], 2)
    assert sorted(e["provisioningAction"] for e in entries) == ["create", "update"]
    users = http.get("/v1.0/users", params={"$filter": f"employeeId eq '{worker['externalId']}'"}).json()["value"]
    assert len(users) == 1 and users[0]["jobTitle"] == "Second title"
    # the manager came after the worker in the same request and is resolved all the same
    assert hr.manager_of(users[0]["id"]) == hr.user(boss["externalId"])["id"]


def test_a_worker_whose_user_was_deleted_gets_a_new_user_and_keeps_flowing_to_it(http):
    """The job's link to the deleted user is stale: the record is matched again (here: a new
    user), the link is replaced, and the next record updates that new user."""
    hr = Inbound(http).start()
    first = sample_record(f"9{hr.tag}", f"gone.{hr.tag}@example.com", "Gone Worker", "Gus", "Guide", None)
    hr.accepted(first)
    processed(hr, first["externalId"])
    old = hr.user(first["externalId"])
    assert http.delete(f"/v1.0/users/{old['id']}").status_code == 204
    back = dict(copy.deepcopy(first), userName=f"back.{hr.tag}@example.com", title="Returned")
    hr.accepted(back)
    assert processed(hr, first["externalId"], 2)[0]["provisioningAction"] == "create"
    new = hr.user(first["externalId"])
    assert new["id"] != old["id"] and new["jobTitle"] == "Returned"
    hr.accepted(dict(copy.deepcopy(back), title="Promoted"))
    latest = processed(hr, first["externalId"], 3)[0]
    assert latest["provisioningAction"] == "update", latest["provisioningStatusInfo"]
    assert latest["targetIdentity"]["id"] == new["id"]
    assert hr.user(first["externalId"])["jobTitle"] == "Promoted"


def test_failed_records_are_logged_and_the_others_applied(http):
    hr = Inbound(http).start()
    good = sample_record(f"5{hr.tag}", f"good.{hr.tag}@example.com", "Good Worker", "Gail", "Guide", None)
    no_user_name = {"schemas": [CORE], "externalId": f"6{hr.tag}", "displayName": "No Login", "active": True}
    bad_upn = sample_record(f"7{hr.tag}", "not an address", "Bad Upn", "Ben", "Guide", None)
    taken = sample_record(f"8{hr.tag}", f"good.{hr.tag}@example.com", "Same Login", "Sam", "Guide", None)
    hr.accepted(no_user_name, bad_upn, good, taken)
    eventually(lambda: hr.status()["lastExecution"])
    assert hr.user(good["externalId"])["displayName"] == "Good Worker"
    failures = {e["sourceIdentity"]["id"]: e for e in hr.logs(provisioningStatusInfo__status="failure")}
    assert set(failures) == {no_user_name["externalId"], bad_upn["externalId"], taken["externalId"]}
    missing = failures[no_user_name["externalId"]]["provisioningStatusInfo"]["errorInformation"]
    assert "userPrincipalName' is required" in missing["reason"]
    assert missing["errorCode"] == "AzureActiveDirectoryRequiredPropertyMissing"
    assert failures[bad_upn["externalId"]]["provisioningStatusInfo"]["errorInformation"]["errorCode"] == \
        "AzureActiveDirectoryInvalidUserPrincipalName"
    assert failures[taken["externalId"]]["provisioningStatusInfo"]["errorInformation"]["errorCode"] == \
        "AzureActiveDirectoryConflictEncountered"
    assert all(e["provisioningAction"] == "create" for e in failures.values())
    assert hr.user(no_user_name["externalId"]) is None and hr.user(taken["externalId"]) is None
    execution = hr.status()["lastExecution"]
    assert (execution["countImported"], execution["countEscrowed"], execution["state"]) == (4, 3, "EntryLevelErrors")


def test_the_log_queries_of_entras_inbound_samples_answer_as_documented(http):
    """The queries of Microsoft's Postman collection for API-driven inbound provisioning, as sent:
    a trailing slash, lower-case ``jobid``, beta's deprecated ``statusInfo/status``, ``ge``."""
    hr, other_app = Inbound(http).start(), Inbound(http).start()
    good = sample_record(f"5{hr.tag}", f"good.{hr.tag}@example.com", "Good Worker", "Gail", "Guide", None)
    bad = sample_record(f"7{hr.tag}", "not an address", "Bad Upn", "Ben", "Guide", None)
    hr.accepted(good, bad)
    other_app.accepted(sample_record(f"9{hr.tag}", f"other.{hr.tag}@example.com", "Other App", "Oli", "Guide", None))
    eventually(lambda: hr.status()["lastExecution"] and other_app.status()["lastExecution"])

    def query(expression: str) -> list[dict]:
        response = http.get("/beta/auditLogs/provisioning/", params={"$filter": expression})
        assert response.status_code == 200, response.text  # answered, not redirected
        return response.json()["value"]

    everything = query(f"jobid eq '{hr.job_id}'")
    assert {e["sourceIdentity"]["id"] for e in everything} == {good["externalId"], bad["externalId"]}
    failures = query(f"jobid eq '{hr.job_id}' and statusInfo/status eq 'failure' and "
                     "activityDateTime ge 2022-10-10T09:47:34Z")
    assert [e["sourceIdentity"]["id"] for e in failures] == [bad["externalId"]]
    error = failures[0]["provisioningStatusInfo"]["errorInformation"]
    assert failures[0]["statusInfo"] == {"@odata.type": "#microsoft.graph.statusDetails", "status": "failure",
                                         **error} and failures[0]["action"] == "create"
    assert error["errorCode"] == "AzureActiveDirectoryInvalidUserPrincipalName" and error["reason"]
    one = query(f"jobid eq '{hr.job_id}' and sourceIdentity/id eq '{good['externalId']}'")
    assert [(e["provisioningAction"], e["provisioningStatusInfo"]["status"]) for e in one] == [("create", "success")]
    assert query(f"jobid eq '{hr.job_id}' and statusInfo/status eq 'failure' and "
                 "activityDateTime ge 2099-01-01T00:00:00Z") == []
    v1 = http.get("/v1.0/auditLogs/provisioning/", params={"$filter": f"jobId eq '{hr.job_id}'"}).json()["value"]
    assert len(v1) == 2 and "statusInfo" not in v1[0] and "action" not in v1[0]  # beta's deprecated duplicates only

    # Microsoft's provisioning client: the service principal's entries of the last 30 minutes, newest first
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1800))
    recent = f"activityDateTime ge {since} and servicePrincipal/id eq '{hr.sp['id']}'"
    newest = http.get("/beta/auditLogs/provisioning", params={"$filter": recent, "$top": 100,
                                                              "$orderby": "activityDateTime desc"})
    oldest = http.get("/beta/auditLogs/provisioning", params={"$filter": recent, "$orderby": "activityDateTime asc"})
    assert newest.status_code == oldest.status_code == 200, newest.text + oldest.text
    newest, oldest = newest.json()["value"], oldest.json()["value"]
    assert len(newest) == 2 and [e["id"] for e in newest] == [e["id"] for e in reversed(oldest)]  # not the other app's
    assert {e["servicePrincipal"]["id"] for e in newest} == {hr.sp["id"]}
    assert newest[0]["activityDateTime"] >= newest[1]["activityDateTime"]
    for bad in ("displayName", "activityDateTime sideways", "activityDateTime desc, id"):
        refused = http.get("/beta/auditLogs/provisioning", params={"$orderby": bad})
        assert refused.status_code == 400 and "activityDateTime" in refused.json()["error"]["message"], bad


@pytest.mark.asyncio
async def test_the_beta_sdk_reads_the_deprecated_status_of_a_log_entry(http, graph_beta):
    hr = Inbound(http).start()
    hr.accepted(sample_record(f"5{hr.tag}", f"beta.{hr.tag}@example.com", "Beta Worker", "Bea", "Guide", None))
    processed(hr, f"5{hr.tag}")
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph_beta.generated.audit_logs.provisioning.provisioning_request_builder import (
        ProvisioningRequestBuilder)
    page = await graph_beta.audit_logs.provisioning.get(RequestConfiguration(
        query_parameters=ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
            filter=f"jobId eq '{hr.job_id}'")))
    [entry] = page.value
    assert (entry.action, entry.status_info.status.value, entry.provisioning_status_info.status.value) == \
        ("create", "success", "success")


def test_scoping_filter_skips_out_of_scope_workers_and_disables_those_who_leave_it(http):
    hr = Inbound(http).start()
    hr.put_schema(lambda schema: mapping(schema).update(scope={"groups": [{"clauses": [{
        "operatorName": "EQUALS", "sourceOperandName": f"{ENTERPRISE}:department",
        "targetOperand": {"values": ["Sales"]}}]}]}))
    seller = sample_record(f"1{hr.tag}", f"sell.{hr.tag}@example.com", "Seller", "Sel", "Seller", None)
    seller[ENTERPRISE]["department"] = "Sales"
    guide = sample_record(f"2{hr.tag}", f"guide.{hr.tag}@example.com", "Guide", "Gus", "Guide", None)
    hr.accepted(seller, guide)
    [skipped] = processed(hr, guide["externalId"])
    assert skipped["provisioningStatusInfo"]["status"] == "skipped" and skipped["provisioningAction"] == "other"
    assert step(skipped, "EntrySynchronizationScoping")["details"]["Scoping filter evaluation passed"] == "False"
    assert hr.user(guide["externalId"]) is None
    assert hr.user(seller["externalId"])["accountEnabled"] is True

    seller[ENTERPRISE]["department"] = "Retail"  # moves out of scope: the user the job made is disabled
    hr.accepted(seller)
    left = next(e for e in processed(hr, seller["externalId"], 2) if e["provisioningAction"] != "create")
    assert left["provisioningAction"] == "disable"
    user = hr.user(seller["externalId"])
    assert user["accountEnabled"] is False and user["department"] == "Sales"


@pytest.mark.parametrize("body, message", [
    (b"{", "not valid JSON"),
    (json.dumps({"Operations": []}).encode(), "'schemas' must be"),
    (json.dumps(bulk({"schemas": [CORE], "externalId": "1"}) | {"Operations": [
        {"method": "PUT", "bulkId": "1", "path": "/Users", "data": {"schemas": [CORE], "externalId": "1"}}]}).encode(),
     "only accepts POST"),
    (json.dumps(bulk({"schemas": [CORE], "externalId": "1"}) | {"Operations": [
        {"method": "POST", "bulkId": "1", "path": "/Groups", "data": {"schemas": [CORE], "externalId": "1"}}]})
     .encode(), "only accepts the path /Users"),
])
def test_a_body_that_is_not_a_valid_bulk_request_is_400(http, body, message):
    hr = Inbound(http).start()
    response = hr.upload(body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_a_request_with_one_bad_operation_stages_none_of_it(http):
    hr = Inbound(http).start()
    first = sample_record(f"1{hr.tag}", f"a.{hr.tag}@example.com", "A", "A", "A", None)
    body = bulk(first)
    body["Operations"].append({"method": "PATCH", "bulkId": "x", "path": "/Users", "data": first})
    assert hr.upload(body).status_code == 400
    marker = sample_record(f"2{hr.tag}", f"b.{hr.tag}@example.com", "B", "B", "B", None)
    hr.accepted(marker)
    processed(hr, marker["externalId"])  # records are applied in order: the refused one would be done by now
    assert hr.user(first["externalId"]) is None and hr.logs(sourceIdentity__id=first["externalId"]) == []


def test_content_types(http):
    hr = Inbound(http).start()
    record = sample_record(f"1{hr.tag}", f"ct.{hr.tag}@example.com", "Ct", "Ct", "Ct", None)
    plain = hr.upload(bulk(record), headers={"Content-Type": "text/plain"})
    assert plain.status_code == 400 and "Invalid Data Format" in plain.json()["error"]["message"]
    assert hr.upload(bulk(record), headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 202


def test_at_most_50_operations_per_request_unless_the_job_setting_lifts_it(http):
    hr = Inbound(http).start()
    records = [{"schemas": [CORE], "externalId": f"{hr.tag}-{i}"} for i in range(51)]
    refused = hr.upload(bulk(*records))
    assert refused.status_code == 400
    assert "at most 50 operations; this one has 51" in refused.json()["error"]["message"]
    assert hr.upload(bulk(*records[:50])).status_code == 202
    patched = http.patch(hr.job, json={"synchronizationJobSettings": [
        {"name": "BulkUploadMaxOperations", "value": "0"}]})
    assert patched.status_code == 204, patched.text
    assert hr.upload(bulk(*records)).status_code == 202
    bad = http.patch(hr.job, json={"synchronizationJobSettings": [{"name": "BulkUploadMaxOperations", "value": "x"}]})
    assert bad.status_code == 400


def test_the_rate_limit_answers_429_with_retry_after_and_can_be_lifted(http):
    hr = Inbound(http, settings=[{"name": "BulkUploadRequestsPerSecond", "value": "2"}]).start()
    record = {"schemas": [CORE], "externalId": f"r{hr.tag}"}
    answers = [hr.upload(bulk(record)) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [202, 202]
    assert answers[2].status_code == 429, answers[2].text
    assert int(answers[2].headers["Retry-After"]) >= 1
    assert answers[2].json()["error"]["code"] == "TooManyRequests"
    time.sleep(1.05)
    assert hr.upload(bulk(record)).status_code == 202
    assert http.patch(hr.job, json={"synchronizationJobSettings": [
        {"name": "BulkUploadRequestsPerSecond", "value": "0"}]}).status_code == 204
    assert {hr.upload(bulk(record)).status_code for _ in range(6)} == {202}


def test_permissions(server, http, tenant):
    hr = Inbound(http)
    body = bulk({"schemas": [CORE], "externalId": "1"})
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert hr.upload(body, client=anonymous).status_code == 401
        for roles, status in ((["SynchronizationData-User.Upload"], 202), (["Synchronization.ReadWrite.All"], 403),
                              (["ProvisioningLog.Read.All", "AuditLog.Read.All"], 403)):
            token = token_for(server, tenant["tenantId"], roles)
            response = hr.upload(body, client=anonymous, headers={**SCIM_JSON, "Authorization": f"Bearer {token}"})
            assert response.status_code == status, response.text
            if status == 403:
                assert "SynchronizationData-User.Upload" in response.json()["error"]["message"]


def test_unknown_jobs_and_outbound_jobs_take_no_records(http, scim_app):
    hr = Inbound(http)
    body = bulk({"schemas": [CORE], "externalId": "1"})
    missing = http.post(f"{hr.sync}/jobs/API2AAD.nope/bulkUpload", content=json.dumps(body), headers=SCIM_JSON)
    assert missing.status_code == 404
    sync = f"/v1.0/servicePrincipals/{scim_app['servicePrincipal']['id']}/synchronization"
    outbound = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
    refused = http.post(f"{sync}/jobs/{outbound}/bulkUpload", content=json.dumps(body), headers=SCIM_JSON)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidJobType"


def test_a_job_that_is_not_running_keeps_the_records_until_it_is_started(http):
    hr = Inbound(http, root="applications")  # the applications root serves bulkUpload too
    record = sample_record(f"1{hr.tag}", f"later.{hr.tag}@example.com", "Later", "Lat", "Guide", None)
    hr.accepted(record)
    time.sleep(0.6)  # several scheduler polls
    assert hr.user(record["externalId"]) is None and hr.logs() == []
    hr.start()
    processed(hr, record["externalId"])
    assert hr.user(record["externalId"])["displayName"] == "Later"
    assert hr.status()["code"] == "Active"

    assert http.post(f"{hr.job}/pause").status_code == 204
    record["title"] = "Paused title"
    hr.accepted(record)
    time.sleep(0.6)
    assert hr.user(record["externalId"])["jobTitle"] == "Guide"
    hr.start()
    eventually(lambda: hr.user(record["externalId"])["jobTitle"] == "Paused title")


def test_job_status_reports_the_run(http):
    hr = Inbound(http).start()
    records = [sample_record(f"{i}{hr.tag}", f"s{i}.{hr.tag}@example.com", f"S {i}", "S", "T", None)
               for i in range(3)]
    hr.accepted(*records)
    execution = eventually(lambda: hr.status()["lastExecution"])
    status = hr.status()
    assert (execution["countImported"], execution["countExported"], execution["countEscrowed"]) == (3, 3, 0)
    assert execution["state"] == "Succeeded" and status["code"] == "Active"
    assert status["lastSuccessfulExecutionWithExports"]["activityIdentifier"] == execution["activityIdentifier"]
    assert status["synchronizedEntryCountByType"] == [{"key": f"{ENTERPRISE} to User", "value": 3}]
    assert {e["cycleId"] for e in hr.logs()} == {execution["activityIdentifier"]}


def test_cycles_page_back_with_cycle_id_ne_as_microsofts_script_does(http):
    """CSV2SCIM's Get-ProvisioningCycleHistory: the newest entry's cycle, then the newest outside the
    cycles seen so far (``cycleId ne '…'`` added each time), until none is left."""
    hr = Inbound(http).start()
    cycles = []
    for i in range(2):
        hr.accepted(sample_record(f"{i}{hr.tag}", f"c{i}.{hr.tag}@example.com", f"C {i}", "C", "T", None))
        cycles.append(eventually(lambda: (lambda e: e["activityIdentifier"] if e and e["activityIdentifier"]
                                          not in cycles else None)(hr.status()["lastExecution"])))
    query, seen = f"jobid eq '{hr.job_id}'", []
    while True:
        newest = http.get("/beta/auditLogs/provisioning", params={"$filter": query, "$top": 1})
        assert newest.status_code == 200, newest.text
        if not newest.json()["value"]:
            break
        seen.append(newest.json()["value"][0]["cycleId"])
        query += f" and cycleId ne '{seen[-1]}'"
    assert seen == cycles[::-1]
    later = http.get("/v1.0/auditLogs/provisioning", params={
        "$filter": f"jobId eq '{hr.job_id}' and activityDateTime ne 2000-01-01T00:00:00Z"})
    assert later.status_code == 200 and len(later.json()["value"]) == 2
    assert http.get("/v1.0/auditLogs/provisioning", params={"$filter": "changeId ne 'x'"}).status_code == 400


@pytest.mark.asyncio
async def test_the_sdk_posts_a_bulk_request_through_its_own_request_adapter(http, graph):
    """msgraph-sdk generates no POST for bulkUpload (it models a media entity); the documented way
    is a RequestInformation sent through the SDK's adapter, which brings its auth and base URL."""
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    hr = Inbound(http).start()

    async def post(body: bytes) -> None:
        info = RequestInformation(Method.POST, "{+baseurl}/servicePrincipals/{sp}/synchronization/jobs/{job}/bulkUpload",
                                  {"sp": hr.sp["id"], "job": hr.job_id})
        info.set_stream_content(body, "application/scim+json")
        await graph.request_adapter.send_no_response_content_async(info, {"XXX": ODataError})

    record = sample_record(f"5{hr.tag}", f"sdk.{hr.tag}@example.com", "Sdk Worker", "Sid", "Coder", None)
    await post(json.dumps(bulk(record)).encode())
    assert eventually(lambda: hr.user(record["externalId"]))["displayName"] == "Sdk Worker"

    with pytest.raises(ODataError) as refused:
        await post(b'{"name": "John Doe"}')  # the "non-SCIM data" request of Microsoft's samples
    assert refused.value.response_status_code == 400 and "BulkRequest" in refused.value.error.message
    with pytest.raises(ODataError) as generated:  # what the SDK does generate: GET of the media entity
        await graph.service_principals.by_service_principal_id(hr.sp["id"]).synchronization.jobs \
            .by_synchronization_job_id(hr.job_id).bulk_upload.get()
    assert generated.value.response_status_code == 405


def test_accepted_records_survive_the_process_dying_after_the_202(tmp_path):
    """The records are committed before the 202: a new process applies them."""
    from fastapi.testclient import TestClient

    from graphsync.api.app import create_app
    from graphsync.config import Settings
    from graphsync.runtime.runtime import Runtime
    from graphsync.services import inbound

    settings = Settings(data_dir=tmp_path, engine=False, emulator=True)
    app = create_app(settings)
    with TestClient(app) as client:
        tenant = client.post("/graphsync/tenants", params={"displayName": "crash"}).json()
        client.headers["Authorization"] = f"Bearer {tenant['accessToken']}"
        hr = Inbound(client).start()
        record = sample_record("424242", "survivor@example.com", "Survivor", "Sue", "Guide", None)
        hr.accepted(record)
    app.state.runtime.close()  # the process is gone; nothing was applied

    runtime = Runtime(settings).start()
    try:
        refs = inbound.inbound_jobs(runtime)
        assert [r.job_id for r in refs] == [hr.job_id]
        inbound.process_job(runtime, refs[0])
        with runtime.unit(tenant["tenantId"]) as ctx:
            from graphsync.services import directory
            user = directory.find_user_by(ctx, "employeeId", "424242")
        assert user["displayName"] == "Survivor"
    finally:
        runtime.close()


def test_cli_uploads_a_csv_file_in_requests_of_50_and_waits_out_429s(server, http, tenant, tmp_path):
    from typer.testing import CliRunner

    from graphsync.cli import app

    hr = Inbound(http, settings=[{"name": "BulkUploadRequestsPerSecond", "value": "2"}]).start()
    header = ["externalId", "userName", "displayName", "name.givenName", "name.familyName",
              'emails[type eq "work"].value', 'addresses[type eq "work"].locality', "title", "department",
              "manager", "active"]
    rows = [[f"{hr.tag}{i:03d}", f"w{i}.{hr.tag}@example.com", f"Worker {i}", "Worker", f"No{i}",
             f"w{i}.{hr.tag}@example.com", "Oslo", "Engineer", "R&D", f"{hr.tag}{(i - 1) // 10:03d}" if i else "",
             "false" if i == 7 else "true"] for i in range(120)]
    csv_file = tmp_path / "workers.csv"
    with csv_file.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header] + rows)
    token = token_for(server, tenant["tenantId"], ["SynchronizationData-User.Upload"])
    result = CliRunner().invoke(app, ["upload", str(csv_file), "--job", hr.job_id, "--sp", hr.sp["id"],
                                      "--url", server.url, "--rate", "0"], env={"GRAPHSYNC_TOKEN": token})
    assert result.exit_code == 0, result.output
    assert "120 of 120 records accepted in 3 requests" in result.output  # the third waited out a 429
    assert f"auditLogs/provisioning?$filter=jobId%20eq%20'{hr.job_id}'" in result.output.replace("\n", "")
    last = eventually(lambda: hr.user(f"{hr.tag}119"))
    assert (last["city"], last["department"], last["surname"]) == ("Oslo", "R&D", "No119")
    assert eventually(lambda: hr.manager_of(last["id"])) == hr.user(f"{hr.tag}011")["id"]
    assert hr.user(f"{hr.tag}007")["accountEnabled"] is False

    json_file = tmp_path / "workers.json"
    json_file.write_text(json.dumps([{"externalId": f"{hr.tag}000", "userName": f"w0.{hr.tag}@example.com",
                                      "displayName": "Worker Zero", "title": "Chief",
                                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                                          {"department": "Board"}}]))
    result = CliRunner().invoke(app, ["upload", str(json_file), "--job", f"{server.url}{hr.url}", "--token", token])
    assert result.exit_code == 0, result.output
    eventually(lambda: hr.user(f"{hr.tag}000")["jobTitle"] == "Chief")
    assert hr.user(f"{hr.tag}000")["department"] == "Board"

    refused = CliRunner().invoke(app, ["upload", str(json_file), "--job", hr.job_id, "--sp", hr.sp["id"],
                                       "--url", server.url, "--token", tenant["accessToken"] + "x"])
    assert refused.exit_code == 1 and "401" in refused.output
    tokenless = CliRunner().invoke(app, ["upload", str(json_file), "--job", hr.job_id, "--sp", hr.sp["id"],
                                         "--url", server.url], env={"GRAPHSYNC_TOKEN": ""})
    assert tokenless.exit_code == 2 and "graphsync token" in tokenless.output


def test_a_record_that_breaks_processing_is_isolated_and_the_batch_is_not_half_applied(http, monkeypatch):
    """An unexpected error rolls the whole batch back; its records are then applied one by one, and
    the record that keeps failing is given up after three attempts, logged as a failure."""
    from graphsync.services import inbound

    real = inbound.directory.create_users

    def breaking(ctx, bodies, managers=None):
        kept = [i for i, body in enumerate(bodies) if body.get("displayName") != "Poison"]
        results = real(ctx, [bodies[i] for i in kept], [managers[i] for i in kept] if managers else None)  # written…
        if len(results) < len(bodies):
            raise RuntimeError("the database went away")  # …and rolled back with the whole batch
        return results

    # a mock, for a fault a real database will not produce on demand: an error in mid-batch
    monkeypatch.setattr(inbound.directory, "create_users", breaking)
    hr = Inbound(http)
    first = sample_record(f"1{hr.tag}", f"first.{hr.tag}@example.com", "First", "F", "T", None)
    poison = sample_record(f"2{hr.tag}", f"poison.{hr.tag}@example.com", "Poison", "P", "T", None)
    last = sample_record(f"3{hr.tag}", f"last.{hr.tag}@example.com", "Last", "L", "T", manager=first["externalId"])
    hr.accepted(first, poison, last)
    hr.start()
    [failed] = processed(hr, poison["externalId"])
    assert failed["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "InternalError"
    assert "after 3 attempts" in failed["provisioningStatusInfo"]["errorInformation"]["reason"]
    processed(hr, last["externalId"])  # records wait behind one being retried: applied in order
    for record in (first, last):
        users = http.get("/v1.0/users", params={"$filter": f"employeeId eq '{record['externalId']}'"}).json()
        assert len(users["value"]) == 1  # the rolled-back batch left no duplicate behind
        assert [e["provisioningAction"] for e in hr.logs(sourceIdentity__id=record["externalId"])] == ["create"]
    assert hr.manager_of(hr.user(last["externalId"])["id"]) == hr.user(first["externalId"])["id"]
    assert hr.user(poison["externalId"]) is None


def test_restart_with_connector_data_store_forgets_the_links_but_no_record(http):
    hr = Inbound(http).start()
    record = sample_record(f"1{hr.tag}", f"link.{hr.tag}@example.com", "Linked", "Li", "Guide", None)

    def matching_step(count: int) -> str:
        entries = sorted(processed(hr, record["externalId"], count), key=lambda e: e["activityDateTime"])
        return next(s["description"] for s in entries[-1]["provisioningSteps"]
                    if s["provisioningStepType"] == "matching")

    hr.accepted(record)
    assert "will be created" in matching_step(1)
    record["title"] = "Linked title"
    hr.accepted(record)
    assert " is linked to User " in matching_step(2)
    assert http.post(f"{hr.job}/pause").status_code == 204
    record["title"] = "Sent while paused"
    hr.accepted(record)  # accepted records survive the restart
    restarted = http.post(f"{hr.job}/restart", json={"criteria": {"resetScope": "ConnectorDataStore"}})
    assert restarted.status_code == 204, restarted.text
    assert " is matched on employeeId to User " in matching_step(3)
    assert eventually(lambda: hr.user(record["externalId"])["jobTitle"] == "Sent while paused")
    assert len(http.get("/v1.0/users", params={"$filter": f"employeeId eq '{record['externalId']}'"}).json()[
        "value"]) == 1
