"""functions(), filterOperators() and parseExpression through the official SDK, on jobs and
templates, and the tables they publish coming from the evaluator's own registry."""
from __future__ import annotations

import pytest
from msgraph.generated.application_templates.item.instantiate.instantiate_post_request_body import (
    InstantiatePostRequestBody)
from msgraph.generated.models.expression_input_object import ExpressionInputObject
from msgraph.generated.models.string_key_object_value_pair import StringKeyObjectValuePair
from msgraph.generated.models.synchronization_job import SynchronizationJob
from msgraph.generated.service_principals.item.synchronization.jobs.item.schema.parse_expression.parse_expression_post_request_body import (  # noqa: E501
    ParseExpressionPostRequestBody)

from graphsync import expressions
from tests.conftest import SCIM_APP_TEMPLATE

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def job_schema(graph):
    created = await graph.application_templates.by_application_template_id(SCIM_APP_TEMPLATE).instantiate.post(
        InstantiatePostRequestBody(display_name="expr app"))
    jobs = graph.service_principals.by_service_principal_id(created.service_principal.id).synchronization.jobs
    job = await jobs.post(SynchronizationJob(template_id="scim"))
    return jobs.by_synchronization_job_id(job.id).schema


async def test_functions_listing_is_the_evaluators_registry(job_schema):
    listed = await job_schema.functions.get()
    names = [f.id for f in listed.value]
    assert names == [f["id"] for f in expressions.function_schemas()]
    for required in ("Append", "Join", "Replace", "SelectUniqueValue", "Switch", "IIF", "FormatDateTime"):
        assert required in names
    append = next(f for f in listed.value if f.id == "Append")
    assert [(p.name, p.required) for p in append.parameters] == [("source", True), ("suffix", True)]


async def test_filter_operators_listing(job_schema):
    listed = await job_schema.filter_operators.get()
    names = {o.id for o in listed.value}
    assert {"EQUALS", "NOT EQUALS", "IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL", "REGEX MATCH",
            "NOT REGEX MATCH", "Greater_Than", "Greater_Than_OR_EQUALS", "Includes", "ENDS_WITH", "&", "!&"} <= names
    is_null = next(o for o in listed.value if o.id == "IS NULL")
    assert is_null.arity.value == "Unary"


async def test_parse_expression_docs_example(job_schema):
    """The Graph docs' example: Replace with empty slots, evaluated against a test object."""
    body = ParseExpressionPostRequestBody(
        expression='Replace([preferredLanguage], "-", , , "_", , )',
        test_input_object=ExpressionInputObject(properties=[
            StringKeyObjectValuePair(key="preferredLanguage", additional_data={"value": "EN-US"})]))
    result = await job_schema.parse_expression.post(body)
    assert result.parsing_succeeded and result.evaluation_succeeded
    assert result.evaluation_result == ["EN_US"]
    tree = result.parsed_expression
    assert tree.name == "Replace" and tree.type.value == "Function"
    assert tree.expression == 'Replace([preferredLanguage], "-", , , "_", , )'
    assert [p.key for p in tree.parameters][0] == "source"
    assert tree.parameters[0].value.name == "preferredLanguage"


async def test_parse_expression_syntax_error_is_an_answer_not_a_failure(job_schema):
    result = await job_schema.parse_expression.post(ParseExpressionPostRequestBody(expression='Join(",", [a]'))
    assert result.parsing_succeeded is False and result.evaluation_succeeded is False
    assert result.error.code == "InvalidExpression"
    assert "position" in result.error.message.lower() or "expected" in result.error.message.lower()


async def test_parse_expression_redacts_in_its_answer(job_schema):
    body = ParseExpressionPostRequestBody(
        expression="Redact([userPrincipalName])",
        test_input_object=ExpressionInputObject(properties=[
            StringKeyObjectValuePair(key="userPrincipalName", additional_data={"value": "ann@contoso.com"})]))
    result = await job_schema.parse_expression.post(body)
    assert result.evaluation_result == ["[Redact]"]


async def test_functions_with_parentheses_and_on_templates(http, scim_app):
    sp = scim_app["servicePrincipal"]["id"]
    for path in (f"/v1.0/servicePrincipals/{sp}/synchronization/templates/scim/schema/functions()",
                 f"/beta/servicePrincipals/{sp}/synchronization/templates/scim/schema/filterOperators"):
        response = http.get(path)
        assert response.status_code == 200, response.text
        assert response.json()["value"]
    parsed = http.post(f"/v1.0/applications/{scim_app['application']['id']}/synchronization/templates/scim/schema/"
                       "parseExpression", json={"expression": 'Append([mail], ".x")'})
    assert parsed.status_code == 200 and parsed.json()["parsedExpression"]["name"] == "Append"


async def test_schema_put_rejects_an_expression_that_does_not_parse(http, scim_app):
    sp = scim_app["servicePrincipal"]["id"]
    job = http.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).json()["id"]
    url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema"
    schema = http.get(url).json()
    mapping = schema["synchronizationRules"][0]["objectMappings"][-1]["attributeMappings"][0]
    mapping["source"] = {"expression": 'Join(",", [displayName]', "name": None, "parameters": [], "type": "Function"}
    response = http.put(url, json=schema)
    assert response.status_code == 400
    assert "source" in response.json()["error"]["message"]
    unknown = http.get(url).json()
    unknown["synchronizationRules"][0]["objectMappings"][-1]["attributeMappings"][0]["source"] = {
        "expression": "[noSuchAttribute]", "name": "noSuchAttribute", "parameters": [], "type": "Attribute"}
    response = http.put(url, json=unknown)
    assert response.status_code == 400 and "noSuchAttribute" in response.json()["error"]["message"]
