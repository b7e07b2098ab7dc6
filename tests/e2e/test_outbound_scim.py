"""The Entra how-to flow end to end, through the official SDK, against a real SCIM server
(scim2-server): users, groups, memberships and managers flow from graphsync's directory to the
target, and the target follows later changes."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
    InstantiatePostRequestBody)
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.group import Group
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.models.synchronization_schedule import SynchronizationSchedule
from msgraph.generated.models.synchronization_secret import SynchronizationSecret
from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
    SynchronizationSecretKeyStringValuePair)
from msgraph.generated.models.user import User
from msgraph.generated.service_principals.item.synchronization.jobs.item.validate_credentials.validate_credentials_post_request_body import (  # noqa: E501
    ValidateCredentialsPostRequestBody)
from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (
    SecretsPutRequestBody)

from tests.conftest import SCIM_APP_TEMPLATE

DEFAULT_ROLE = uuid.UUID("00000000-0000-0000-0000-000000000000")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def secret(key, value):
    return SynchronizationSecretKeyStringValuePair(key=key, value=value)


async def new_user(graph, tag: str, name: str, **extra) -> User:
    return await graph.users.post(User(
        account_enabled=True, display_name=f"{name} Example", given_name=name, surname="Example",
        user_principal_name=f"{name.lower()}.{tag}@contoso.test", mail_nickname=f"{name.lower()}{tag}",
        mail=f"{name.lower()}.{tag}@contoso.test",
        password_profile=PasswordProfile(password="Passw0rd!Passw0rd!"), **extra))


async def wait_for_cycle(job_item, after: str | None, timeout: float = 40):
    """The job after a cycle that began after ``after`` (an activityIdentifier) has completed."""
    deadline = time.monotonic() + timeout
    while True:
        job = await job_item.get()
        execution = job.status.last_execution
        if execution and execution.activity_identifier and execution.activity_identifier != after:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"no new cycle within {timeout}s: {job.status}")
        await asyncio.sleep(0.2)


async def test_outbound_provisioning_end_to_end(graph, server, scim_server):
    tag = uuid.uuid4().hex[:8]
    created = await graph.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        InstantiatePostRequestBody(display_name=f"SCIM e2e {tag}"))
    sp = created.service_principal
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization

    # the directory: alice (assigned, reports to dave), bob (via the assigned group), carol (not
    # assigned), dave (assigned)
    alice = await new_user(graph, tag, "Alice", department="Retail", job_title="Buyer")
    bob = await new_user(graph, tag, "Bob")
    carol = await new_user(graph, tag, "Carol")
    dave = await new_user(graph, tag, "Dave")
    sales = await graph.groups.post(Group(display_name=f"Sales {tag}", mail_enabled=False, security_enabled=True,
                                          mail_nickname=f"sales{tag}"))
    for member in (alice, bob):
        await graph.groups.by_group_id(sales.id).members.ref.post(ReferenceCreate(
            odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{member.id}"))
    await graph.users.by_user_id(alice.id).manager.ref.put(ReferenceUpdate(
        odata_id=f"https://graph.microsoft.com/v1.0/users/{dave.id}"))
    assignments = {}
    for principal in (alice, dave, sales):
        assignment = await graph.service_principals.by_service_principal_id(sp.id).app_role_assigned_to.post(
            AppRoleAssignment(principal_id=uuid.UUID(principal.id), resource_id=uuid.UUID(sp.id),
                              app_role_id=DEFAULT_ROLE))
        assignments[principal.id] = assignment.id

    templates = await sync.templates.get()
    assert "scim" in [t.id for t in templates.value]
    job = await sync.jobs.post(SynchronizationJob(template_id="scim"))
    item = sync.jobs.by_synchronization_job_id(job.id)
    credentials = [secret(SynchronizationSecret.BaseAddress, scim_server.url),
                   secret(SynchronizationSecret.SecretToken, scim_server.token)]
    await item.validate_credentials.post(ValidateCredentialsPostRequestBody(credentials=credentials))
    await sync.secrets.put(SecretsPutRequestBody(value=credentials + [secret(SynchronizationSecret.SyncAll, "false")]))
    await item.patch(SynchronizationJob(schedule=SynchronizationSchedule(interval=timedelta(seconds=1))))
    await item.start.post()

    job = await wait_for_cycle(item, None)
    assert job.status.code.value == "Active", job.status
    assert job.status.last_execution.state.value == "Succeeded", job.status.last_execution
    assert job.status.last_execution.count_exported >= 4

    target_alice = scim_server.find("Users", "userName", alice.user_principal_name)
    target_bob = scim_server.find("Users", "userName", bob.user_principal_name)
    target_dave = scim_server.find("Users", "userName", dave.user_principal_name)
    assert scim_server.find("Users", "userName", carol.user_principal_name) is None  # not assigned
    assert target_alice["displayName"] == "Alice Example" and target_alice["active"] is True
    assert target_alice["name"]["givenName"] == "Alice" and target_alice["name"]["formatted"] == "Alice Example"
    assert target_alice["title"] == "Buyer"
    assert target_alice["emails"][0]["value"] == alice.mail and target_alice["emails"][0]["type"] == "work"
    assert target_alice["externalId"] == alice.mail_nickname
    assert target_alice[ENTERPRISE]["department"] == "Retail"
    assert target_alice[ENTERPRISE]["manager"]["value"] == target_dave["id"]
    group = scim_server.find("Groups", "displayName", f"Sales {tag}")
    assert group is not None and group["externalId"] == sales.id
    assert {m["value"] for m in group.get("members", [])} == {target_alice["id"], target_bob["id"]}

    # a quiet cycle changes nothing in the target
    previous = job.status.last_execution.activity_identifier
    job = await wait_for_cycle(item, previous)
    assert job.status.last_execution.count_exported == 0

    # changes: a title, a member removed (bob leaves scope), dave unassigned, alice soft-deleted
    await graph.users.by_user_id(alice.id).patch(User(job_title="Head Buyer"))
    job = await wait_for_cycle(item, job.status.last_execution.activity_identifier)
    assert scim_server.find("Users", "userName", alice.user_principal_name)["title"] == "Head Buyer"

    await graph.groups.by_group_id(sales.id).members.by_directory_object_id(bob.id).ref.delete()
    await graph.service_principals.by_service_principal_id(sp.id).app_role_assigned_to \
        .by_app_role_assignment_id(assignments[dave.id]).delete()
    job = await wait_for_cycle(item, job.status.last_execution.activity_identifier)
    job = await wait_for_cycle(item, job.status.last_execution.activity_identifier)
    assert scim_server.find("Users", "userName", bob.user_principal_name)["active"] is False
    assert scim_server.find("Users", "userName", dave.user_principal_name)["active"] is False
    group = scim_server.find("Groups", "displayName", f"Sales {tag}")
    assert {m["value"] for m in group.get("members", [])} == {target_alice["id"]}

    await graph.users.by_user_id(alice.id).delete()  # soft delete → disabled in the target
    job = await wait_for_cycle(item, job.status.last_execution.activity_identifier)
    assert scim_server.find("Users", "userName", alice.user_principal_name)["active"] is False
    await graph.directory.deleted_items.by_directory_object_id(alice.id).delete()  # hard delete → DELETE
    job = await wait_for_cycle(item, job.status.last_execution.activity_identifier)
    assert scim_server.find("Users", "userName", alice.user_principal_name) is None
    assert job.status.last_execution.state.value == "Succeeded"
    counts = {p.key: p.value for p in job.status.synchronized_entry_count_by_type}
    assert counts.get("user to User") == 2 and counts.get("group to Group") == 1

    # what happened is in the provisioning logs, filterable by job
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.audit_logs.provisioning.provisioning_request_builder import ProvisioningRequestBuilder
    params = ProvisioningRequestBuilder.ProvisioningRequestBuilderGetQueryParameters(
        filter=f"jobId eq '{job.id}'", top=500)
    logs = await graph.audit_logs.provisioning.get(RequestConfiguration(query_parameters=params))
    actions = {(entry.source_identity.id, entry.provisioning_action.value) for entry in logs.value
               if entry.provisioning_status_info.status.value == "success"}
    assert (alice.id, "create") in actions and (alice.id, "update") in actions
    assert (bob.id, "disable") in actions and (alice.id, "delete") in actions
    assert all(entry.job_id == job.id for entry in logs.value)
    created_alice = next(e for e in logs.value if e.source_identity.id == alice.id
                         and e.provisioning_action.value == "create")
    assert {"userName": alice.user_principal_name}.items() <= {
        p.display_name: p.new_value for p in created_alice.modified_properties}.items()
    # (the SDK cannot read the step type "import": its enum member is Import_; names and statuses it reads)
    assert [(s.name, s.status.value) for s in created_alice.provisioning_steps] == [
        ("EntryImport", "success"), ("EntrySynchronizationScoping", "success"),
        ("EntrySynchronizationAdd", "success"), ("EntryExportAdd", "success")]
    assert str(created_alice.target_system.details.additional_data["ApplicationId"]) == sp.app_id
    # reference updates name the people involved, not only their ids
    manager_set = next(e for e in logs.value if any(p.display_name == "manager" for p in e.modified_properties))
    assert manager_set.source_identity.display_name == "Alice Example"
    assert {p.display_name: p.new_value for p in manager_set.modified_properties}["manager.displayName"] == \
        "Dave Example"
    members_set = next(e for e in logs.value if any(p.display_name == "members" and p.new_value == "added 2"
                                                    for p in e.modified_properties))
    assert members_set.source_identity.display_name == f"Sales {tag}"
    added = {p.display_name: p.new_value for p in members_set.modified_properties}["members.added"]
    assert sorted(added.split(", ")) == ["Alice Example", "Bob Example"]


async def test_provision_on_demand(graph, scim_server):
    import json

    from msgraph.generated.models.synchronization_job_application_parameters import (
        SynchronizationJobApplicationParameters)
    from msgraph.generated.models.synchronization_job_subject import SynchronizationJobSubject
    from msgraph.generated.models.synchronization_linked_objects import SynchronizationLinkedObjects
    from msgraph.generated.service_principals.item.synchronization.jobs.item.provision_on_demand.provision_on_demand_post_request_body import (  # noqa: E501
        ProvisionOnDemandPostRequestBody)

    tag = uuid.uuid4().hex[:8]
    created = await graph.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        InstantiatePostRequestBody(display_name=f"on demand {tag}"))
    sp = created.service_principal
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization
    erin = await new_user(graph, tag, "Erin")
    frank = await new_user(graph, tag, "Frank")
    team = await graph.groups.post(Group(display_name=f"Team {tag}", mail_enabled=False, security_enabled=True,
                                         mail_nickname=f"team{tag}"))
    await graph.groups.by_group_id(team.id).members.ref.post(ReferenceCreate(
        odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{frank.id}"))
    for principal in (erin, team):
        await graph.service_principals.by_service_principal_id(sp.id).app_role_assigned_to.post(AppRoleAssignment(
            principal_id=uuid.UUID(principal.id), resource_id=uuid.UUID(sp.id), app_role_id=DEFAULT_ROLE))
    job = await sync.jobs.post(SynchronizationJob(template_id="scim"))
    await sync.secrets.put(SecretsPutRequestBody(value=[secret(SynchronizationSecret.BaseAddress, scim_server.url),
                                                        secret(SynchronizationSecret.SecretToken, scim_server.token)]))
    schema = await sync.jobs.by_synchronization_job_id(job.id).schema.get()
    rule_id = schema.synchronization_rules[0].id
    on_demand = sync.jobs.by_synchronization_job_id(job.id).provision_on_demand

    def body(subject):
        return ProvisionOnDemandPostRequestBody(parameters=[SynchronizationJobApplicationParameters(
            rule_id=rule_id, subjects=[subject])])

    first = await on_demand.post(body(SynchronizationJobSubject(object_id=erin.id, object_type_name="User")))
    result, account = json.loads(first.key), json.loads(first.value)
    assert result["result"] == "Success" and account["action"] == "Create"
    assert [s["type"] for s in account["provisioningSteps"]] == ["Import", "Scoping", "Matching", "Export"]
    assert scim_server.find("Users", "userName", erin.user_principal_name)["displayName"] == "Erin Example"

    again = await on_demand.post(body(SynchronizationJobSubject(object_id=erin.id, object_type_name="User")))
    assert json.loads(again.key)["result"] == "Skipped"
    assert json.loads(again.key)["details"]["errorCode"] == "RedundantExport"

    group = await on_demand.post(body(SynchronizationJobSubject(
        object_id=team.id, object_type_name="Group", links=SynchronizationLinkedObjects(members=[
            SynchronizationJobSubject(object_id=frank.id, object_type_name="User")]))))
    assert json.loads(group.key)["result"] == "Success"
    target_team = scim_server.find("Groups", "displayName", f"Team {tag}")
    target_frank = scim_server.find("Users", "userName", frank.user_principal_name)
    assert [m["value"] for m in target_team["members"]] == [target_frank["id"]]


def test_validate_credentials_against_the_real_target(http, scim_app, scim_server):
    sp = scim_app["servicePrincipal"]["id"]
    url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/validateCredentials"
    good = http.post(url, json={"templateId": "scim", "credentials": [
        {"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": scim_server.token}]})
    assert good.status_code == 204, good.text
    bad = http.post(url, json={"templateId": "scim", "credentials": [
        {"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": "wrong-token"}]})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "CredentialsValidationFailed" and "refused the credentials" in error["message"]
    assert "wrong-token" not in bad.text


def test_bulk_creates_against_scim2_server(http, scim_server):
    """With ScimBulkOperations, creates travel in /Bulk requests (scim2-server announces bulk)."""
    import time as clock
    tag = uuid.uuid4().hex[:8]
    sp = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                   json={"displayName": f"bulk {tag}"}).json()["servicePrincipal"]["id"]
    for i in range(30):
        assert http.post("/v1.0/users", json={"accountEnabled": True, "displayName": f"Bulk {i} {tag}",
                                              "userPrincipalName": f"b{i}.{tag}@contoso.test"}).status_code == 201
    jobs_url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs"
    job_url = f"{jobs_url}/{http.post(jobs_url, json={'templateId': 'scim'}).json()['id']}"
    http.put(f"/v1.0/servicePrincipals/{sp}/synchronization/secrets", json={"value": [
        {"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": scim_server.token},
        {"key": "SyncAll", "value": "true"}]})
    http.patch(job_url, json={"synchronizationJobSettings": [{"name": "ScimBulkOperations", "value": "20"}]})
    assert http.post(f"{job_url}/start").status_code == 204
    deadline = clock.monotonic() + 40
    while not (http.get(job_url).json()["status"]["lastExecution"] or {}).get("activityIdentifier"):
        assert clock.monotonic() < deadline
        clock.sleep(0.2)
    status = http.get(job_url).json()["status"]
    assert status["lastExecution"]["state"] == "Succeeded", status
    mine = [u for u in scim_server.resources("Users") if u["userName"].endswith(f".{tag}@contoso.test")]
    assert sorted(u["displayName"] for u in mine) == sorted(f"Bulk {i} {tag}" for i in range(30))
