"""$filter on /applications and /servicePrincipals: how the HR-provisioning guides find the service
principal of an app by name or appId (``GET /servicePrincipals?$filter=displayName eq '…'``),
through the official SDK and raw HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.application_templates.application_templates_request_builder import (
    ApplicationTemplatesRequestBuilder)
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder)

from tests.conftest import SCIM_APP_TEMPLATE, bearer_client, token_for

API_DRIVEN_APP = "557df4cf-766b-4086-85d9-55769b9c02cb"


def instantiate(http, template: str, name: str) -> dict:
    response = http.post(f"/v1.0/applicationTemplates/{template}/instantiate", json={"displayName": name})
    assert response.status_code == 201, response.text
    return response.json()


def sp_query(**params) -> RequestConfiguration:
    return RequestConfiguration(
        query_parameters=ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(**params))


@pytest.mark.asyncio
async def test_service_principals_and_applications_filter_through_the_sdk(graph, http):
    workday = instantiate(http, API_DRIVEN_APP, "Workday to Entra")
    sap = instantiate(http, API_DRIVEN_APP, "SAP SuccessFactors")
    slack = instantiate(http, SCIM_APP_TEMPLATE, "Slack")
    assert http.patch(f"/v1.0/servicePrincipals/{slack['servicePrincipal']['id']}",
                      json={"accountEnabled": False}).status_code == 204

    found = await graph.service_principals.get(sp_query(filter="displayName eq 'workday to entra'"))
    assert [sp.id for sp in found.value] == [workday["servicePrincipal"]["id"]]  # case-insensitive, as in Entra
    by_app_id = await graph.service_principals.get(sp_query(filter=f"appId eq '{sap['application']['appId']}'"))
    assert [sp.display_name for sp in by_app_id.value] == ["SAP SuccessFactors"]
    prefixed = await graph.service_principals.get(sp_query(filter="startswith(displayName,'S')"))
    assert sorted(sp.display_name for sp in prefixed.value) == ["SAP SuccessFactors", "Slack"]
    enabled = await graph.service_principals.get(
        sp_query(filter="startswith(displayName,'S') and accountEnabled eq true"))
    assert [sp.display_name for sp in enabled.value] == ["SAP SuccessFactors"]
    # Microsoft's CSV2SCIM script takes an id or an appId: "id eq '…' or appId eq '…'", selecting the id
    for given in (sap["servicePrincipal"]["id"], sap["application"]["appId"]):
        either = await graph.service_principals.get(sp_query(filter=f"id eq '{given}' or appId eq '{given}'",
                                                             select=["id"]))
        assert [(sp.id, sp.display_name) for sp in either.value] == [(sap["servicePrincipal"]["id"], None)]
    nothing = await graph.service_principals.get(sp_query(filter="displayName eq 'Nobody'"))
    assert nothing.value == []

    apps = await graph.applications.get(RequestConfiguration(
        query_parameters=ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
            filter=f"applicationTemplateId eq '{API_DRIVEN_APP}'")))
    assert sorted(a.display_name for a in apps.value) == ["SAP SuccessFactors", "Workday to Entra"]


@pytest.mark.asyncio
async def test_application_templates_filter_by_name(graph, http):
    def templates(expression: str):
        return graph.application_templates.get(RequestConfiguration(
            query_parameters=ApplicationTemplatesRequestBuilder.ApplicationTemplatesRequestBuilderGetQueryParameters(
                filter=expression)))

    api = await templates("displayName eq 'API-driven provisioning to Microsoft Entra ID'")
    assert [t.id for t in api.value] == [API_DRIVEN_APP]
    custom = await templates("startswith(displayName,'cust')")
    assert [t.id for t in custom.value] == [SCIM_APP_TEMPLATE]
    assert (await templates("publisher eq null and displayName eq 'Gallery app'")).value == []
    assert http.get("/v1.0/applicationTemplates", params={"$filter": "categories eq 'hr'"}).status_code == 400


def test_a_filtered_list_pages_with_its_filter(http):
    made = [instantiate(http, API_DRIVEN_APP, f"HR {i}")["servicePrincipal"]["id"] for i in range(3)]
    instantiate(http, SCIM_APP_TEMPLATE, "Other")
    first = http.get("/v1.0/servicePrincipals", params={"$filter": "startswith(displayName,'hr ')", "$top": 2,
                                                         "$count": "true"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["@odata.count"] == 3 and len(body["value"]) == 2
    rest = http.get(body["@odata.nextLink"]).json()
    assert [sp["id"] for sp in body["value"] + rest["value"]] == made and "@odata.nextLink" not in rest


def test_other_tenants_principals_are_not_found(server, http):
    mine = instantiate(http, API_DRIVEN_APP, "Shared Name")
    other_tenant = server.runtime.new_tenant_with_admin("other")
    with bearer_client(server, other_tenant["accessToken"]) as other:
        instantiate(other, API_DRIVEN_APP, "Shared Name")
    found = http.get("/v1.0/servicePrincipals", params={"$filter": "displayName eq 'Shared Name'"}).json()["value"]
    assert [sp["id"] for sp in found] == [mine["servicePrincipal"]["id"]]


@pytest.mark.parametrize("resource,expression", [
    ("servicePrincipals", "notes eq 'x'"),  # not a filterable property
    ("servicePrincipals", "displayName ne 'x'"),
    ("servicePrincipals", "accountEnabled eq 'yes'"),
    ("servicePrincipals", "displayName eq 'x' xor appId eq 'y'"),
    ("servicePrincipals", "startswith(displayName,"),
    ("applications", "accountEnabled eq true"),  # a service principal's property, not an application's
    ("applications", "displayName eq 'unterminated"),
])
def test_unsupported_filters_are_400_with_what_is_supported(http, resource, expression):
    instantiate(http, API_DRIVEN_APP, "Any")
    response = http.get(f"/v1.0/{resource}", params={"$filter": expression})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "Request_UnsupportedQuery" and error["message"] and "innerError" in error


def test_filtering_needs_the_read_permission(server, tenant):
    token = token_for(server, tenant["tenantId"], ["SynchronizationData-User.Upload"])
    with bearer_client(server, token) as uploader:
        response = uploader.get("/v1.0/servicePrincipals", params={"$filter": "displayName eq 'x'"})
    assert response.status_code == 403, response.text
