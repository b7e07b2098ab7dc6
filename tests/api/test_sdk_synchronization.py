"""The synchronization control plane driven through the official msgraph-sdk (v1.0 and beta),
changed only in its base URL. Every assertion is about what a user of the SDK sees."""
from __future__ import annotations

from datetime import timedelta

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
    InstantiatePostRequestBody)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.synchronization import Synchronization
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.models.synchronization_job_restart_criteria import SynchronizationJobRestartCriteria
from msgraph.generated.models.synchronization_job_restart_scope import SynchronizationJobRestartScope
from msgraph.generated.models.synchronization_schedule import SynchronizationSchedule
from msgraph.generated.models.synchronization_schedule_state import SynchronizationScheduleState
from msgraph.generated.models.synchronization_secret import SynchronizationSecret
from msgraph.generated.models.synchronization_secret_key_string_value_pair import (
    SynchronizationSecretKeyStringValuePair)
from msgraph.generated.models.synchronization_status_code import SynchronizationStatusCode
from msgraph.generated.models.synchronization_template import SynchronizationTemplate
from msgraph.generated.models.key_value_pair import KeyValuePair
from msgraph.generated.service_principals.item.synchronization.jobs.item.restart.restart_post_request_body import (
    RestartPostRequestBody)
from msgraph.generated.service_principals.item.synchronization.jobs.jobs_request_builder import JobsRequestBuilder
from msgraph.generated.service_principals.item.synchronization.secrets.secrets_put_request_body import (
    SecretsPutRequestBody)

from tests.conftest import SCIM_APP_TEMPLATE

pytestmark = pytest.mark.asyncio


async def instantiate(graph, name="Contoso SCIM"):
    result = await graph.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        InstantiatePostRequestBody(display_name=name))
    return result.application, result.service_principal


async def test_entra_how_to_flow(graph, http):
    """instantiate → list templates → create job → put secrets → start → job is active."""
    app, sp = await instantiate(graph)
    assert app.display_name == "Contoso SCIM" and sp.app_id == app.app_id
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization

    templates = await sync.templates.get()
    assert "scim" in [t.id for t in templates.value]
    scim = next(t for t in templates.value if t.id == "scim")
    assert scim.factory_tag and str(scim.application_id) == app.app_id

    job = await sync.jobs.post(SynchronizationJob(template_id="scim"))
    assert job.id.startswith("scim.") and job.template_id == "scim"
    assert job.schedule.state == SynchronizationScheduleState.Disabled
    assert job.status.code == SynchronizationStatusCode.NotConfigured

    await sync.secrets.put(SecretsPutRequestBody(value=[
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.BaseAddress, value="https://scim.example/scim"),
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.SecretToken, value="tok-123"),
    ]))
    count = await sync.secrets.count.get()
    assert count == 2

    item = sync.jobs.by_synchronization_job_id(job.id)
    await item.start.post()
    started = await item.get()
    assert started.schedule.state == SynchronizationScheduleState.Active
    assert started.schedule.interval == timedelta(minutes=40)
    assert started.status.code == SynchronizationStatusCode.NotRun

    await item.pause.post()
    paused = await item.get()
    assert paused.status.code == SynchronizationStatusCode.Paused

    await item.restart.post(RestartPostRequestBody(criteria=SynchronizationJobRestartCriteria(
        reset_scope=SynchronizationJobRestartScope.Watermark)))
    restarted = await item.get()
    assert restarted.schedule.state == SynchronizationScheduleState.Active
    assert restarted.status.code == SynchronizationStatusCode.NotRun

    listed = await sync.jobs.get()
    assert [j.id for j in listed.value] == [job.id]

    await item.delete()
    with pytest.raises(ODataError) as missing:
        await item.get()
    assert missing.value.response_status_code == 404


async def test_job_patch_schedule_and_settings(graph):
    _, sp = await instantiate(graph)
    jobs = graph.service_principals.by_service_principal_id(sp.id).synchronization.jobs
    job = await jobs.post(SynchronizationJob(template_id="scim"))
    item = jobs.by_synchronization_job_id(job.id)
    await item.patch(SynchronizationJob(
        schedule=SynchronizationSchedule(interval=timedelta(minutes=5)),
        synchronization_job_settings=[KeyValuePair(name="QuarantineTooManyDeletesThreshold", value="25")]))
    got = await item.get()
    assert got.schedule.interval == timedelta(minutes=5)
    assert [(s.name, s.value) for s in got.synchronization_job_settings] == [("QuarantineTooManyDeletesThreshold", "25")]
    # a started job keeps the interval that was set
    await item.start.post()
    assert (await item.get()).schedule.interval == timedelta(minutes=5)


async def test_jobs_paging_count_and_select(graph):
    _, sp = await instantiate(graph)
    jobs = graph.service_principals.by_service_principal_id(sp.id).synchronization.jobs
    created = [(await jobs.post(SynchronizationJob(template_id="scim"))).id for _ in range(5)]
    params = JobsRequestBuilder.JobsRequestBuilderGetQueryParameters(top=2, count=True, select=["id", "templateId"])
    page = await jobs.get(RequestConfiguration(query_parameters=params))
    assert page.odata_count == 5 and len(page.value) == 2 and page.odata_next_link
    assert page.value[0].schedule is None  # not selected
    seen = [j.id for j in page.value]
    while page.odata_next_link:
        page = await jobs.with_url(page.odata_next_link).get()
        seen += [j.id for j in page.value]
    assert seen == created
    assert await jobs.count.get() == 5


async def test_synchronization_entity_put_and_get(graph):
    _, sp = await instantiate(graph)
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization
    await sync.put(Synchronization(secrets=[
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.BaseAddress, value="https://a.example"),
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.SecretToken, value="hunter2"),
    ]))
    got = await sync.get()
    assert got.id == sp.id
    values = {s.key: s.value for s in got.secrets}
    assert values == {SynchronizationSecret.BaseAddress: "https://a.example", SynchronizationSecret.SecretToken: "*"}


async def test_synchronization_answers_carry_its_odata_type_and_the_sdk_reads_them(graph, http):
    """GET, PATCH and PUT of …/synchronization answer as the documentation's example shows
    ("@odata.type": "#microsoft.graph.synchronization"), on both roots; the SDK still parses them."""
    app, sp = await instantiate(graph)
    for path in (f"/v1.0/servicePrincipals/{sp.id}/synchronization", f"/beta/applications/{app.id}/synchronization"):
        pair = {"key": "BaseAddress", "value": "https://t.example"}
        for response in (http.get(path), http.patch(path, json={"secrets": [pair]}),
                         http.put(path, json={"secrets": [pair]}), http.get(path, params={"$select": "id"})):
            assert response.status_code == 200, response.text
            assert response.json()["@odata.type"] == "#microsoft.graph.synchronization", response.text
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization
    put = await sync.put(Synchronization(secrets=[
        SynchronizationSecretKeyStringValuePair(key=SynchronizationSecret.BaseAddress, value="https://b.example")]))
    got = await sync.get()
    assert got.odata_type == "#microsoft.graph.synchronization" and got.id == sp.id
    assert {s.key: s.value for s in got.secrets} == {SynchronizationSecret.BaseAddress: "https://b.example"}
    assert put.odata_type == "#microsoft.graph.synchronization" and put.id == sp.id


async def test_templates_crud_on_application(graph):
    app, _ = await instantiate(graph)
    templates = graph.applications.by_application_id(app.id).synchronization.templates
    created = await templates.post(SynchronizationTemplate(id="custom1", factory_tag="CustomSCIM",
                                                           description="mine"))
    assert created.id == "custom1" and created.description == "mine"
    item = templates.by_synchronization_template_id("custom1")
    await item.patch(SynchronizationTemplate(description="changed", factory_tag="CustomSCIM"))
    assert (await item.get()).description == "changed"
    schema = await item.schema.get()
    assert {d.name for d in schema.directories} >= {"customappsso"}
    await item.delete()
    ids = [t.id for t in (await templates.get()).value]
    assert "custom1" not in ids and "scim" in ids


async def test_job_schema_roundtrip_through_sdk(graph):
    _, sp = await instantiate(graph)
    jobs = graph.service_principals.by_service_principal_id(sp.id).synchronization.jobs
    job = await jobs.post(SynchronizationJob(template_id="scim"))
    schema_builder = jobs.by_synchronization_job_id(job.id).schema
    schema = await schema_builder.get()
    rule = schema.synchronization_rules[0]
    users = next(m for m in rule.object_mappings if m.target_object_name.endswith("enterprise:2.0:User"))
    before = len(users.attribute_mappings)
    users.attribute_mappings = [m for m in users.attribute_mappings if m.target_attribute_name != "title"]
    await schema_builder.patch(schema)  # the SDK sends PATCH; graphsync treats it as the documented PUT
    changed = await schema_builder.get()
    users2 = next(m for m in changed.synchronization_rules[0].object_mappings
                  if m.target_object_name.endswith("enterprise:2.0:User"))
    assert len(users2.attribute_mappings) == before - 1
    assert changed.version != schema.version
    await schema_builder.delete()  # reset to the template's default
    reset = await schema_builder.get()
    users3 = next(m for m in reset.synchronization_rules[0].object_mappings
                  if m.target_object_name.endswith("enterprise:2.0:User"))
    assert len(users3.attribute_mappings) == before


async def test_directories_and_discover(graph):
    _, sp = await instantiate(graph)
    jobs = graph.service_principals.by_service_principal_id(sp.id).synchronization.jobs
    job = await jobs.post(SynchronizationJob(template_id="scim"))
    directories = jobs.by_synchronization_job_id(job.id).schema.directories
    listed = await directories.get()
    names = [d.name for d in listed.value]
    assert "customappsso" in names
    target = next(d for d in listed.value if d.name == "customappsso")
    got = await directories.by_directory_definition_id(target.id).get()
    assert got.name == "customappsso"
    discovered = await directories.by_directory_definition_id(target.id).discover.post()
    assert discovered.discovery_date_time is not None and discovered.version


async def test_applications_and_service_principals_crud(graph):
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.service_principal import ServicePrincipal
    app = await graph.applications.post(Application(display_name="Plain app"))
    assert app.app_id and app.id
    sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
    assert sp.display_name == "Plain app"
    await graph.applications.by_application_id(app.id).patch(Application(display_name="Renamed"))
    assert (await graph.applications.by_application_id(app.id).get()).display_name == "Renamed"
    apps = await graph.applications.get()
    assert [a.id for a in apps.value] == [app.id]
    # a plain application gets the built-in templates of both directions
    tpl = await graph.service_principals.by_service_principal_id(sp.id).synchronization.templates.get()
    assert {"scim", "API2AAD"} <= {t.id for t in tpl.value}
    await graph.applications.by_application_id(app.id).delete()
    with pytest.raises(ODataError) as gone:
        await graph.service_principals.by_service_principal_id(sp.id).get()
    assert gone.value.response_status_code == 404


async def test_beta_ping_and_jobs(graph_beta):
    from msgraph_beta.generated.application_templates.item.instantiate.instantiate_post_request_body import (
        InstantiatePostRequestBody as BetaInstantiate)
    from msgraph_beta.generated.models.synchronization_job import SynchronizationJob as BetaJob
    created = await graph_beta.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        BetaInstantiate(display_name="beta app"))
    sync = graph_beta.service_principals.by_service_principal_id(created.service_principal.id).synchronization
    pong = await sync.ping.get()
    assert pong.value == "OK"
    job = await sync.jobs.post(BetaJob(template_id="scim"))
    assert (await sync.jobs.by_synchronization_job_id(job.id).get()).template_id == "scim"


async def test_unknown_template_is_a_400(graph):
    _, sp = await instantiate(graph)
    with pytest.raises(ODataError) as bad:
        await graph.service_principals.by_service_principal_id(sp.id).synchronization.jobs.post(
            SynchronizationJob(template_id="nope"))
    assert bad.value.response_status_code == 400
    assert "nope" in bad.value.error.message


async def test_beta_template_metadata_keys_are_camel_case(graph_beta, graph):
    """v1.0 spells synchronizationMetadata keys PascalCase, beta camelCase (but one)."""
    _, sp = await instantiate(graph)
    v1 = await graph.service_principals.by_service_principal_id(sp.id).synchronization.templates.get()
    beta = await graph_beta.service_principals.by_service_principal_id(sp.id).synchronization.templates.get()
    v1_keys = {m.key.value for m in next(t for t in v1.value if t.id == "scim").metadata}
    beta_keys = {m.key.value for m in next(t for t in beta.value if t.id == "scim").metadata}
    assert "GalleryApplicationIdentifier" in v1_keys and "galleryApplicationIdentifier" in beta_keys
    assert "IsSynchronizationAgentAssignmentRequired" in beta_keys


async def test_directory_definitions_crud_and_synchronization_delete_through_sdk(graph):
    from msgraph.generated.models.attribute_definition import AttributeDefinition
    from msgraph.generated.models.directory_definition import DirectoryDefinition
    from msgraph.generated.models.object_definition import ObjectDefinition
    _, sp = await instantiate(graph)
    sync = graph.service_principals.by_service_principal_id(sp.id).synchronization
    job = await sync.jobs.post(SynchronizationJob(template_id="scim"))
    directories = sync.jobs.by_synchronization_job_id(job.id).schema.directories
    added = await directories.post(DirectoryDefinition(name="HR", objects=[ObjectDefinition(
        name="Worker", attributes=[AttributeDefinition(name="WorkerId")])]))
    assert added.id and added.name == "HR"
    await directories.by_directory_definition_id(added.id).patch(DirectoryDefinition(read_only=True))
    assert (await directories.by_directory_definition_id(added.id).get()).read_only is True
    await directories.by_directory_definition_id(added.id).delete()
    assert "HR" not in [d.name for d in (await directories.get()).value]
    # deleting the synchronization removes its jobs and secrets
    await sync.secrets.put(SecretsPutRequestBody(value=[SynchronizationSecretKeyStringValuePair(
        key=SynchronizationSecret.BaseAddress, value="https://x.example")]))
    await sync.delete()
    assert (await sync.jobs.get()).value == [] and await sync.secrets.count.get() == 0
