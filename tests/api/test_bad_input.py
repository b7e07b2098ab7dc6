"""What a client gets for bad input: malformed or mistyped bodies, bodies too large or of the wrong
type, wrong methods, unknown ids, bad query options, unknown API versions. Every answer is a Graph
error body (never a 500), and a refused write leaves nothing half-written. Also: durations and
restart scopes in the forms clients send, and secrets never shown, stored or logged in clear."""
from __future__ import annotations

import base64
import copy
import json
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import pytest
from sqlalchemy import select

from graphsync.store.tables import metadata, sync_secrets
from tests.api.graph_asserts import UUID_RE, check_graph_error, describe
from tests.conftest import SCIM_APP_TEMPLATE, bearer_client



# -- checks ------------------------------------------------------------------------------------





def check_status(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, describe(response)
    assert UUID_RE.match(response.headers.get("request-id", "")), describe(response)
    return response


# -- the world: one tenant with an app + service principal and a job under the service principal -

@dataclass
class World:
    tenant: dict
    app: dict
    sp: dict
    job: str
    directory: str

    @property
    def sync(self) -> str:
        return f"/v1.0/servicePrincipals/{self.sp['id']}/synchronization"

    @property
    def ids(self) -> dict[str, str]:
        return {"sp": self.sp["id"], "app": self.app["id"], "app_id": self.app["appId"], "job": self.job,
                "dir": self.directory, "template": SCIM_APP_TEMPLATE}


@pytest.fixture(scope="module")
def tenant(server) -> dict:
    response = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "bad input"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def http(server, tenant) -> Iterator[httpx.Client]:
    with bearer_client(server, tenant["accessToken"]) as client:
        yield client


def instantiate(http: httpx.Client, name: str = "Contoso SCIM") -> tuple[dict, dict]:
    response = check_status(http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                                      json={"displayName": name}), 201)
    return response.json()["application"], response.json()["servicePrincipal"]


def new_job(http: httpx.Client, sync: str) -> str:
    return check_status(http.post(f"{sync}/jobs", json={"templateId": "scim"}), 201).json()["id"]


@pytest.fixture(scope="module")
def world(http, tenant) -> World:
    app, sp = instantiate(http)
    sync = f"/v1.0/servicePrincipals/{sp['id']}/synchronization"
    job = new_job(http, sync)
    directory = check_status(http.get(f"{sync}/jobs/{job}/schema"), 200).json()["directories"][0]["id"]
    return World(tenant, app, sp, job, directory)


@pytest.fixture
def fresh(http) -> World:
    """A world of its own for a test that writes (same tenant, new app, SP and job)."""
    app, sp = instantiate(http, f"Scratch {uuid.uuid4().hex[:6]}")
    sync = f"/v1.0/servicePrincipals/{sp['id']}/synchronization"
    job = new_job(http, sync)
    directory = check_status(http.get(f"{sync}/jobs/{job}/schema"), 200).json()["directories"][0]["id"]
    return World({}, app, sp, job, directory)


# -- body-taking routes --------------------------------------------------------------------------

SP_SYNC = "/v1.0/servicePrincipals/{sp}/synchronization"
ON_DEMAND = {"parameters": [{"ruleId": "ea807875-5618-4f0a-9125-0b46a05298ca", "subjects": [
    {"objectId": "7d9e4b1c-0000-4000-8000-000000000001", "objectTypeName": "User"}]}]}
APP_SYNC = "/v1.0/applications/{app}/synchronization"


@dataclass(frozen=True)
class BodyRoute:
    method: str
    path: str
    valid: dict  # a body the route accepts
    wrong_type: dict  # a body with one property of the wrong JSON type
    wrong_name: str  # how the error names that property
    required: str | None = None  # a property that may not be left out (``valid`` without it is refused)

    def __str__(self) -> str:
        return f"{self.method} {self.path.split('/v1.0/', 1)[1]}"

    def url(self, world: World) -> str:
        return self.path.format(**world.ids)


BODY_ROUTES = [
    BodyRoute("POST", SP_SYNC + "/jobs", {"templateId": "scim"}, {"templateId": 42}, "templateId", "templateId"),
    BodyRoute("POST", APP_SYNC + "/jobs", {"templateId": "scim"}, {"templateId": ["scim"]}, "templateId",
              "templateId"),
    BodyRoute("PATCH", SP_SYNC + "/jobs/{job}", {"schedule": {"interval": "PT40M"}}, {"schedule": "PT40M"},
              "schedule"),
    BodyRoute("PUT", SP_SYNC, {"secrets": []}, {"secrets": "BaseAddress"}, "secrets"),
    BodyRoute("PATCH", SP_SYNC, {"secrets": []}, {"secrets": {"key": "BaseAddress"}}, "secrets"),
    BodyRoute("PUT", SP_SYNC + "/secrets", {"value": [{"key": "BaseAddress", "value": "https://x.test"}]},
              {"value": "BaseAddress"}, "value"),
    BodyRoute("PUT", SP_SYNC + "/jobs/{job}/schema", {"directories": []}, {"directories": "none"}, "directories"),
    BodyRoute("PATCH", SP_SYNC + "/jobs/{job}/schema", {"directories": []}, {"synchronizationRules": {}},
              "synchronizationRules"),
    BodyRoute("PUT", APP_SYNC + "/templates/scim/schema", {"directories": []}, {"directories": 7}, "directories"),
    BodyRoute("POST", APP_SYNC + "/templates", {"id": "custom"}, {"metadata": "none"}, "metadata"),
    BodyRoute("PATCH", APP_SYNC + "/templates/scim", {"description": "d"}, {"default": "perhaps"}, "default"),
    BodyRoute("PUT", APP_SYNC + "/templates/scim", {"description": "d"}, {"description": 5}, "description"),
    BodyRoute("POST", SP_SYNC + "/jobs/{job}/restart", {"criteria": {"resetScope": "Watermark"}},
              {"criteria": "Watermark"}, "criteria"),
    BodyRoute("POST", SP_SYNC + "/jobs/{job}/validateCredentials", {"useSavedCredentials": True},
              {"useSavedCredentials": "perhaps"}, "useSavedCredentials"),
    BodyRoute("POST", SP_SYNC + "/jobs/validateCredentials", {"useSavedCredentials": True, "templateId": "scim"},
              {"credentials": "SecretToken"}, "credentials"),
    BodyRoute("POST", SP_SYNC + "/jobs/{job}/provisionOnDemand", ON_DEMAND, {"parameters": {"ruleId": "x"}},
              "parameters", "parameters"),
    BodyRoute("POST", SP_SYNC + "/jobs/{job}/schema/parseExpression", {"expression": "[mail]"},
              {"expression": 42}, "expression", "expression"),
    BodyRoute("POST", SP_SYNC + "/jobs/{job}/schema/directories", {"name": "Extra"}, {"name": 5}, "name", "name"),
    BodyRoute("PATCH", SP_SYNC + "/jobs/{job}/schema/directories/{dir}", {"readOnly": True},
              {"readOnly": "perhaps"}, "readOnly"),
    BodyRoute("POST", "/v1.0/applications", {"displayName": "App"}, {"tags": "one"}, "tags", "displayName"),
    BodyRoute("PATCH", "/v1.0/applications/{app}", {"notes": "n"}, {"displayName": 5}, "displayName"),
    BodyRoute("POST", "/v1.0/servicePrincipals", {"appId": "{app_id}"}, {"accountEnabled": "perhaps"},
              "accountEnabled", "appId"),
    BodyRoute("PATCH", "/v1.0/servicePrincipals/{sp}", {"notes": "n"}, {"tags": {"a": 1}}, "tags"),
    BodyRoute("POST", "/v1.0/applicationTemplates/{template}/instantiate", {"displayName": "App"},
              {"displayName": ["App"]}, "displayName", "displayName"),
]
REQUIRED_ROUTES = [r for r in BODY_ROUTES if r.required]


def send(http: httpx.Client, route: BodyRoute, world: World, **kwargs) -> httpx.Response:
    return http.request(route.method, route.url(world), **kwargs)


def filled(route: BodyRoute, world: World, body: dict) -> dict:
    return json.loads(json.dumps(body).replace("{app_id}", world.app["appId"]))


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_malformed_json_is_400(http, world, route):
    for raw in (b'{"templateId": "scim",', b"{'single': 'quotes'}", b'{"a": 1} trailing', b'{"a": "\xff\xfe"}',
                b"\xef\xbb\xbf{"):
        error = check_graph_error(send(http, route, world, content=raw,
                                       headers={"Content-Type": "application/json"}), 400)
        assert "JSON" in error["message"], error["message"]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_json_that_is_not_an_object_is_400(http, world, route):
    for value in ([], [filled(route, world, route.valid)], "text", 42, None, True):
        raw = json.dumps(value).encode()
        error = check_graph_error(send(http, route, world, content=raw,
                                       headers={"Content-Type": "application/json"}), 400)
        assert "object" in error["message"], error["message"]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_unknown_property_is_400_naming_it(http, world, route):
    body = dict(filled(route, world, route.valid), frobnicate=True)
    error = check_graph_error(send(http, route, world, json=body), 400)
    assert "frobnicate" in error["message"], error["message"]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_wrong_property_type_is_400_naming_it(http, world, route):
    body = dict(filled(route, world, route.valid), **route.wrong_type)
    error = check_graph_error(send(http, route, world, json=body), 400)
    assert route.wrong_name in error["message"], error["message"]


@pytest.mark.parametrize("route", REQUIRED_ROUTES, ids=str)
def test_missing_required_property_is_400_naming_it(http, world, route):
    body = {k: v for k, v in filled(route, world, route.valid).items() if k != route.required}
    error = check_graph_error(send(http, route, world, json=body), 400)
    assert route.required in error["message"], error["message"]
    check_graph_error(send(http, route, world), 400)  # and no body at all


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_oversized_body_is_413(server, http, world, route):
    limit = server.settings.max_body_bytes
    raw = json.dumps(filled(route, world, route.valid)).encode() + b" " * (limit + 1)  # valid JSON, too long
    response = send(http, route, world, content=raw, headers={"Content-Type": "application/json"})
    check_graph_error(response, 413, "RequestEntityTooLarge")
    chunks = iter([raw[i:i + 65536] for i in range(0, len(raw), 65536)])  # no Content-Length: chunked
    response = send(http, route, world, content=chunks, headers={"Content-Type": "application/json"})
    check_graph_error(response, 413, "RequestEntityTooLarge")


@pytest.mark.parametrize("route", BODY_ROUTES, ids=str)
def test_body_that_is_not_json_content_is_415(http, world, route):
    raw = json.dumps(filled(route, world, route.valid)).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = send(http, route, world, content=raw, headers=headers)
        check_graph_error(response, 415, "UnsupportedMediaType")


def test_body_just_under_the_limit_is_accepted(server, http, fresh):
    limit = server.settings.max_body_bytes
    value = "x" * (limit - 1024)
    body = {"synchronizationJobSettings": [{"name": "Note", "value": value}]}
    assert limit - 2048 < len(json.dumps(body)) < limit
    check_status(http.patch(f"{fresh.sync}/jobs/{fresh.job}", json=body), 204)
    job = check_status(http.get(f"{fresh.sync}/jobs/{fresh.job}"), 200).json()
    assert job["synchronizationJobSettings"] == [{"name": "Note", "value": value}]


def test_json_with_charset_and_odata_annotations_is_accepted(http, fresh):
    raw = json.dumps({"@odata.type": "#microsoft.graph.synchronizationJob",
                      "schedule": {"@odata.type": "#microsoft.graph.synchronizationSchedule", "interval": "PT20M"}})
    response = http.patch(f"{fresh.sync}/jobs/{fresh.job}", content=raw,
                          headers={"Content-Type": "application/json; charset=utf-8"})
    check_status(response, 204)
    assert http.get(f"{fresh.sync}/jobs/{fresh.job}").json()["schedule"]["interval"] == "PT20M"


@pytest.mark.parametrize("body, named", [
    ({"schedule": {"intervall": "PT40M"}}, "schedule.intervall"),
    ({"synchronizationJobSettings": [{"name": "a", "value": "b", "vaule": "c"}]}, "vaule"),
    ({"schedule": {"interval": "PT40M", "state": "Sleeping"}}, "schedule.state"),
])
def test_nested_bad_property_is_400_naming_it(http, world, body, named):
    error = check_graph_error(http.patch(f"{world.sync}/jobs/{world.job}", json=body), 400)
    assert named in error["message"], error["message"]


def test_deeply_nested_json_is_400(http, world):
    for raw in (b"[" * 100_000 + b"]" * 100_000,
                json.dumps({"templateId": "scim", "id": json.loads("[" * 900 + "]" * 900)}).encode()):
        check_graph_error(http.post(f"{world.sync}/jobs", content=raw, headers={"Content-Type": "application/json"}),
                          400)


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/jobs", {"templateId": "sc\u0000im"}),
    ("POST", "/templates", {"id": "nul\u0000template"}),
    ("PATCH", "/jobs/{job}", {"synchronizationJobSettings": [{"name": "a\u0000", "value": "b"}]}),
    ("PUT", "/secrets", {"value": [{"key": "BaseAddress", "value": "https://x.test/\u0000"}]}),
])
def test_nul_characters_are_400(http, world, method, path, body):
    """PostgreSQL cannot store NUL characters; both backends refuse them alike, with a 400."""
    response = http.request(method, world.sync + path.format(**world.ids), json=body)
    check_graph_error(response, 400)


@pytest.mark.parametrize("method, path, body", [
    ("PUT", "/secrets", {"value": [{"key": "SecretToken", "value": "\ud800"}]}),
    ("PATCH", "", {"secrets": [{"key": "BaseAddress", "value": "https://x.test/\udfff"}]}),
    ("POST", "/jobs", {"templateId": "scim", "\udbff": 1}),
    ("PATCH", "/jobs/{job}", {"synchronizationJobSettings": [{"name": "a", "value": "\ud83d"}]}),
])
def test_lone_surrogates_are_400_and_change_nothing(http, world, method, path, body):
    """JSON's syntax allows an escape like \\ud800, but alone it is no character: UTF-8 cannot
    encode it for the database or a target (it was a 500)."""
    before = http.get(f"{world.sync}/secrets").json()
    raw = json.dumps(body).encode()  # ensure_ascii: the surrogate travels as its escape
    assert b"\\ud" in raw
    response = http.request(method, world.sync + path.format(**world.ids), content=raw,
                            headers={"Content-Type": "application/json"})
    assert "surrogate" in check_graph_error(response, 400)["message"]
    assert http.get(f"{world.sync}/secrets").json() == before


def test_surrogate_pairs_are_characters_and_kept(http):
    raw = json.dumps({"displayName": "Rocket \U0001F680"}).encode()  # sent as the pair \ud83d\ude80
    assert b"\\ud83d\\ude80" in raw
    created = http.post("/v1.0/applications", content=raw, headers={"Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    assert http.get(f"/v1.0/applications/{created.json()['id']}").json()["displayName"] == "Rocket \U0001F680"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_numbers_json_does_not_have_are_400_and_create_nothing(http, number):
    """Python's parser reads NaN, Infinity and 1e400 (as inf); nothing can write them back: the
    application was saved, then its answer was a 500."""
    name = f"numbers {number}"
    raw = f'{{"displayName": "{name}", "web": {{"redirectUris": {number}}}}}'.encode()
    error = check_graph_error(http.post("/v1.0/applications", content=raw,
                                        headers={"Content-Type": "application/json"}), 400)
    assert "not valid JSON" in error["message"]
    assert http.get("/v1.0/applications", params={"$filter": f"displayName eq '{name}'"}).json()["value"] == []


def test_deeply_nested_group_body_is_400(http):
    raw = b'{"displayName": "g", "mailNickname": "g", "x": ' + b"[" * 950 + b"]" * 950 + b"}"
    check_graph_error(http.post("/v1.0/groups", content=raw, headers={"Content-Type": "application/json"}), 400)
    assert http.get("/v1.0/groups", params={"$filter": "displayName eq 'g'"}).json()["value"] == []


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00"])
def test_date_times_with_no_utc_form_are_400_and_change_nothing(http, world, value):
    """A date-time is kept in UTC; these two lie beyond year 9999 or before year 1 there (a 500)."""
    user = http.post("/v1.0/users", json={
        "accountEnabled": True, "displayName": "Dora Date", "mailNickname": f"dora{value[:4]}",
        "userPrincipalName": f"dora{value[:4]}@{world.tenant['defaultDomain']}",
        "passwordProfile": {"password": "Passw0rd!Passw0rd!"}, "employeeHireDate": "2020-01-01T10:00:00+02:00"})
    assert user.status_code == 201, user.text
    url = f"/v1.0/users/{user.json()['id']}"
    check_graph_error(http.patch(url, json={"employeeHireDate": value}), 400)
    check_graph_error(http.patch(url, json={"employeeLeaveDateTime": value}), 400)
    kept = http.get(url, params={"$select": "employeeHireDate,employeeLeaveDateTime"}).json()
    assert kept["employeeHireDate"] == "2020-01-01T08:00:00Z" and kept.get("employeeLeaveDateTime") is None
    job = f"{world.sync}/jobs/{world.job}"
    before = http.get(job).json()["schedule"]
    check_graph_error(http.patch(job, json={"schedule": {"expiration": value}}), 400)
    assert http.get(job).json()["schedule"] == before
    http.delete(url)


def test_graphs_never_date_reads_back_with_a_four_digit_year(http, world):
    job = f"{world.sync}/jobs/{world.job}"
    before = http.get(job).json()["schedule"]
    try:
        assert http.patch(job, json={"schedule": {"expiration": "0001-01-01T00:00:00Z"}}).status_code == 204
        assert http.get(job).json()["schedule"]["expiration"] == "0001-01-01T00:00:00Z"  # was "1-01-01T…"
    finally:
        http.patch(job, json={"schedule": before})


def test_nul_character_in_display_name_is_400(http):
    check_graph_error(http.post("/v1.0/applications", json={"displayName": "Contoso\u0000"}), 400)


# -- methods, ids, versions, query options --------------------------------------------------------

@pytest.mark.parametrize("method, path", [
    ("PATCH", SP_SYNC + "/jobs"), ("PUT", SP_SYNC + "/jobs"), ("DELETE", SP_SYNC + "/jobs"),
    ("POST", SP_SYNC + "/jobs/{job}"), ("PUT", SP_SYNC + "/jobs/{job}"),
    ("GET", SP_SYNC + "/jobs/{job}/start"), ("DELETE", SP_SYNC + "/jobs/{job}/restart"),
    ("POST", SP_SYNC), ("POST", SP_SYNC + "/secrets"), ("DELETE", SP_SYNC + "/secrets"),
    ("PATCH", SP_SYNC + "/secrets"), ("POST", SP_SYNC + "/jobs/{job}/schema"),
    ("PUT", SP_SYNC + "/jobs/{job}/schema/directories"), ("GET", SP_SYNC + "/jobs/{job}/schema/parseExpression"),
    ("POST", SP_SYNC + "/jobs/{job}/schema/functions"), ("PUT", "/v1.0/applications/{app}"),
    ("POST", "/v1.0/applicationTemplates"), ("DELETE", "/v1.0/applicationTemplates/{template}"),
    ("GET", "/v1.0/applicationTemplates/{template}/instantiate"),
])
def test_wrong_method_is_405(http, world, method, path):
    response = http.request(method, path.format(**world.ids))
    check_graph_error(response, 405)
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
    assert allowed and method not in allowed  # the answer says which methods the resource has


@pytest.mark.parametrize("method, path, allowed", [
    ("POST", SP_SYNC, "GET, PUT, PATCH, DELETE"),
    ("POST", APP_SYNC, "GET, PUT, PATCH, DELETE"),
    ("PUT", SP_SYNC + "/jobs/{job}", "GET, PATCH, DELETE"),
    ("PATCH", SP_SYNC + "/jobs", "GET, POST"),
    ("POST", SP_SYNC + "/secrets", "GET, PUT"),
    ("POST", SP_SYNC + "/jobs/{job}/schema", "GET, PUT, PATCH, DELETE"),
    ("POST", SP_SYNC + "/templates/scim", "GET, PUT, PATCH, DELETE"),
    ("PUT", "/v1.0/applications/{app}", "GET, PATCH, DELETE"),
    ("PUT", "/v1.0/users", "GET, POST"),
    ("GET", SP_SYNC + "/jobs/{job}/start", "POST"),
])
def test_405_allow_lists_every_method_of_the_path(http, world, method, path, allowed):
    """Most paths have a route per method; Allow named only the first route's method (GET)."""
    response = http.request(method, path.format(**world.ids))
    check_graph_error(response, 405)
    assert response.headers["allow"] == allowed


GHOST = "00000000-0000-0000-0000-00000000dead"


@pytest.mark.parametrize("method, path, body", [
    ("GET", SP_SYNC + "/jobs/scim.ghost", None),
    ("PATCH", SP_SYNC + "/jobs/scim.ghost", {"schedule": {"interval": "PT40M"}}),
    ("DELETE", SP_SYNC + "/jobs/scim.ghost", None),
    ("POST", SP_SYNC + "/jobs/scim.ghost/start", None),
    ("POST", SP_SYNC + "/jobs/scim.ghost/pause", None),
    ("POST", SP_SYNC + "/jobs/scim.ghost/restart", None),
    ("POST", SP_SYNC + "/jobs/scim.ghost/validateCredentials", {"useSavedCredentials": True}),
    ("POST", SP_SYNC + "/jobs/scim.ghost/provisionOnDemand", ON_DEMAND),
    ("GET", SP_SYNC + "/jobs/scim.ghost/schema", None),
    ("PUT", SP_SYNC + "/jobs/scim.ghost/schema", {}),
    ("DELETE", SP_SYNC + "/jobs/scim.ghost/schema", None),
    ("GET", SP_SYNC + "/jobs/scim.ghost/schema/directories", None),
    ("GET", SP_SYNC + "/jobs/scim.ghost/schema/functions", None),
    ("POST", SP_SYNC + "/jobs/scim.ghost/schema/parseExpression", {"expression": "[mail]"}),
    ("GET", SP_SYNC + "/jobs/" + "x" * 300, None),
    ("GET", SP_SYNC + "/templates/ghost", None),
    ("PUT", SP_SYNC + "/templates/ghost", {"description": "d"}),
    ("PATCH", SP_SYNC + "/templates/ghost", {"description": "d"}),
    ("DELETE", SP_SYNC + "/templates/ghost", None),
    ("GET", SP_SYNC + "/templates/ghost/schema", None),
    ("PUT", SP_SYNC + "/templates/ghost/schema", {}),
    ("GET", SP_SYNC + "/jobs/{job}/schema/directories/ghost", None),
    ("PATCH", SP_SYNC + "/jobs/{job}/schema/directories/ghost", {"readOnly": True}),
    ("DELETE", SP_SYNC + "/jobs/{job}/schema/directories/ghost", None),
    ("POST", SP_SYNC + "/jobs/{job}/schema/directories/ghost/discover", None),
    ("GET", SP_SYNC + "/nonsense/{job}/schema", None),
    ("GET", SP_SYNC + "/jobs/{job}/nonsense", None),
    ("GET", f"/v1.0/servicePrincipals/{GHOST}", None),
    ("PATCH", f"/v1.0/servicePrincipals/{GHOST}", {"notes": "n"}),
    ("DELETE", f"/v1.0/servicePrincipals/{GHOST}", None),
    ("GET", f"/v1.0/servicePrincipals/{GHOST}/synchronization", None),
    ("GET", f"/v1.0/servicePrincipals/{GHOST}/synchronization/jobs", None),
    ("POST", f"/v1.0/servicePrincipals/{GHOST}/synchronization/jobs", {"templateId": "scim"}),
    ("PUT", f"/v1.0/servicePrincipals/{GHOST}/synchronization/secrets", {"value": []}),
    ("GET", "/v1.0/servicePrincipals/not-a-guid/synchronization/templates", None),
    ("GET", f"/v1.0/applications/{GHOST}", None),
    ("PATCH", f"/v1.0/applications/{GHOST}", {"notes": "n"}),
    ("DELETE", f"/v1.0/applications/{GHOST}", None),
    ("GET", f"/v1.0/applications/{GHOST}/synchronization/templates", None),
    ("GET", "/v1.0/applications/" + "a" * 300, None),
    ("GET", f"/v1.0/applicationTemplates/{GHOST}", None),
    ("POST", f"/v1.0/applicationTemplates/{GHOST}/instantiate", {"displayName": "App"}),
    ("GET", SP_SYNC + "/jobs/a%00b", None),
    ("GET", "/v1.0/servicePrincipals/a%00b/synchronization/jobs", None),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unknown_id_is_404(http, world, method, path, body):
    response = http.request(method, path.format(**world.ids), **({"json": body} if body is not None else {}))
    check_graph_error(response, 404)


def test_unknown_template_in_job_body_is_400(http, world):
    error = check_graph_error(http.post(f"{world.sync}/jobs", json={"templateId": "ghost"}), 400)
    assert "ghost" in error["message"]


def test_unknown_application_in_service_principal_body_is_400(http):
    error = check_graph_error(http.post("/v1.0/servicePrincipals", json={"appId": GHOST}), 400)
    assert GHOST in error["message"]


@pytest.mark.parametrize("version", ["v2.0", "v1", "alpha", "V1.0x"])
@pytest.mark.parametrize("tail", ["servicePrincipals/{sp}/synchronization/jobs", "applications",
                                  "applicationTemplates", "servicePrincipals/{sp}/synchronization/jobs/{job}/start"])
def test_unknown_api_version_is_404(http, world, version, tail):
    method = "POST" if tail.endswith("start") else "GET"
    response = http.request(method, f"/{version}/{tail.format(**world.ids)}")
    check_graph_error(response, 404)


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_ping_answers_on_both_versions(http, world, version):
    """Beta's Ping() answers on v1.0 as well (it was a 404 there)."""
    for ping in ("Ping()", "ping()"):
        response = check_status(http.get(world.sync.replace("/v1.0/", f"/{version}/") + f"/{ping}"), 200)
        assert response.json()["value"] == "OK"
        assert response.json()["@odata.context"].endswith(f"/{version}/$metadata#Edm.String")


def skiptoken(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path, params", [
    ("/jobs", {"$filter": "templateId eq 'scim'"}),
    ("/jobs", {"$orderby": "id"}),
    ("/jobs", {"$search": "scim"}),
    ("/jobs", {"$skip": "1"}),
    ("/jobs", {"$frobnicate": "1"}),
    ("/jobs", {"$top": "0"}),
    ("/jobs", {"$top": "-1"}),
    ("/jobs", {"$top": "ten"}),
    ("/jobs", {"$top": "1000"}),
    ("/jobs", {"$top": "1e3"}),
    ("/jobs", {"$skiptoken": "not a token!"}),
    ("/jobs", {"$skiptoken": skiptoken({"x": 1})}),
    ("/jobs", {"$skiptoken": skiptoken([1, 2])}),
    ("/jobs", {"$skiptoken": skiptoken({"o": "ten"})}),
    ("/jobs", {"$skiptoken": skiptoken({"o": -1})}),
    ("/jobs", {"$skiptoken": skiptoken({"o": 10 ** 30})}),
    ("/jobs", {"$skiptoken": skiptoken({"o": 0, "t": 0})}),
    ("/jobs", {"$skiptoken": skiptoken({"o": 0, "t": 10 ** 6})}),
    ("/jobs", {"$count": "maybe"}),
    ("/jobs", {"$expand": "schema"}),
    ("/jobs/{job}", {"$top": "1"}),
    ("/jobs/{job}", {"$expand": "status"}),
    ("/jobs/{job}/schema", {"$top": "1"}),
    ("/templates", {"$expand": "jobs"}),
    ("/templates", {"$skiptoken": skiptoken({"o": -5})}),
    ("/jobs/{job}/schema/directories", {"$skiptoken": skiptoken({"o": -1})}),
    ("", {"$top": "1"}),
], ids=lambda v: v if isinstance(v, str) else "&".join(f"{k}={str(x)[:12]}" for k, x in v.items()))
def test_bad_query_option_is_400(http, world, path, params):
    check_graph_error(http.get(world.sync + path.format(**world.ids), params=params), 400)


@pytest.mark.parametrize("path", ["/v1.0/applications", "/v1.0/servicePrincipals", "/v1.0/applicationTemplates"])
def test_bad_query_option_on_directory_objects_is_400(http, path):
    for params in ({"$top": "0"}, {"$skiptoken": skiptoken({"o": -1})}, {"$orderby": "id"}, {"$bogus": "1"}):
        check_graph_error(http.get(path, params=params), 400)


FILTERED = [("/v1.0/users", "displayName eq '{i}'", " or "), ("/v1.0/groups", "displayName eq '{i}'", " or "),
            ("/v1.0/users/$count", "displayName eq '{i}'", " or "),
            ("/v1.0/servicePrincipals", "appId eq '{i}'", " or "), ("/v1.0/applications", "appId eq '{i}'", " or "),
            ("/v1.0/applicationTemplates", "displayName eq '{i}'", " or "),
            ("/v1.0/users", "startswith(displayName,'{i}')", " and "),
            ("/v1.0/auditLogs/provisioning", "jobId ne '{i}'", " and "),
            ("/beta/auditLogs/provisioning", "cycleId ne '{i}'", " and ")]


@pytest.mark.parametrize("path, term, joiner", FILTERED, ids=lambda v: v.strip() if isinstance(v, str) else "")
def test_filter_with_too_many_terms_is_400_naming_the_limit(http, path, term, joiner):
    """1,000 'or' terms were a 500 (SQLite refuses expression trees deeper than 1,000); a client
    splitting a list of ids into one query learns the limit instead."""
    def terms(count: int) -> str:
        return joiner.join(term.format(i=f"x{i}") for i in range(count))

    headers = {"ConsistencyLevel": "eventual"}
    assert http.get(path, params={"$filter": terms(100)}, headers=headers).status_code == 200
    for count in (101, 1000):
        error = check_graph_error(http.get(path, params={"$filter": terms(count)}, headers=headers), 400,
                                  "Request_UnsupportedQuery")
        assert "at most 100" in error["message"], error


@pytest.mark.parametrize("path", ["/v1.0/users", "/v1.0/servicePrincipals", "/v1.0/auditLogs/provisioning"])
@pytest.mark.parametrize("expression", ["(" * 5000 + "displayName eq 'x'" + ")" * 5000,
                                        "((displayName eq 'x') or (displayName eq 'y'))",
                                        "jobId eq 'a\x00b'"], ids=["deep", "parentheses", "nul"])
def test_filter_nesting_and_nul_are_400(http, path, expression):
    check_graph_error(http.get(path, params={"$filter": expression}), 400)


def test_top_and_skiptoken_page_through_jobs(http, fresh):
    second = new_job(http, fresh.sync)
    first = check_status(http.get(f"{fresh.sync}/jobs", params={"$top": "1", "$count": "true"}), 200).json()
    assert [j["id"] for j in first["value"]] == [fresh.job] and first["@odata.count"] == 2
    rest = check_status(http.get(first["@odata.nextLink"]), 200).json()
    assert [j["id"] for j in rest["value"]] == [second] and "@odata.nextLink" not in rest


# -- nothing half-written ----------------------------------------------------------------------

def secrets_of(http: httpx.Client, world: World) -> list[dict]:
    return check_status(http.get(f"{world.sync}/secrets"), 200).json()["value"]


def test_bad_notification_settings_store_no_secret(http, fresh):
    check_status(http.put(f"{fresh.sync}/secrets", json={"value": [{"key": "BaseAddress",
                                                                     "value": "https://old.test"}]}), 204)
    before = secrets_of(http, fresh)
    for path, body in ((f"{fresh.sync}/secrets", "value"), (fresh.sync, "secrets")):
        for method in ("PUT", "PATCH") if body == "secrets" else ("PUT",):
            response = http.request(method, path, json={body: [
                {"key": "BaseAddress", "value": "https://new.test"},
                {"key": "SecretToken", "value": "half-written"},
                {"key": "SyncNotificationSettings", "value": "not json"}]})
            check_graph_error(response, 400, "InvalidNotificationSettings")
    assert secrets_of(http, fresh) == before
    count = check_status(http.get(f"{fresh.sync}/secrets/$count"), 200)
    assert count.text == "1"


@pytest.mark.parametrize("pairs, named", [
    ([{"key": "BaseAddress", "value": "https://new.test"}, {"key": "NotASecretKey", "value": "x"}], "key"),
    ([{"key": "SecretToken", "value": "t"}, {"key": "None", "value": "x"}], "None"),
    ([{"key": "SecretToken", "value": "t"}, {"key": "SyncAll", "value": "sometimes"}], "SyncAll"),
    ([{"key": "SecretToken", "value": "t"}, {"key": "SecretToken", "value": "u"}], "SecretToken"),
    ([{"key": "BaseAddress", "value": "https://new.test"}, {"key": "Password", "value": "*"}], "Password"),
    ([{"key": "SecretToken", "value": "t"}, {"value": "keyless"}], "key"),
    ([{"key": "SecretToken", "value": "t"},
      {"key": "SyncNotificationSettings", "value": '{"DeleteThresholdValue": -1}'}], "DeleteThresholdValue"),
])
def test_refused_secrets_store_nothing(http, fresh, pairs, named):
    before = secrets_of(http, fresh)
    error = check_graph_error(http.put(f"{fresh.sync}/secrets", json={"value": pairs}), 400)
    assert named in error["message"], error["message"]
    assert secrets_of(http, fresh) == before == []


def test_empty_notification_settings_value_deletes_the_key(http, fresh):
    check_status(http.put(f"{fresh.sync}/secrets", json={"value": [
        {"key": "SyncNotificationSettings", "value": '{"Enabled": false}'}]}), 204)
    assert [s["key"] for s in secrets_of(http, fresh)] == ["SyncNotificationSettings"]
    check_status(http.put(f"{fresh.sync}/secrets", json={"value": [{"key": "SyncNotificationSettings",
                                                                     "value": ""}]}), 204)
    assert secrets_of(http, fresh) == []


def job_schema(http: httpx.Client, world: World) -> dict:
    return check_status(http.get(f"{world.sync}/jobs/{world.job}/schema"), 200).json()


def user_mapping(schema: dict) -> dict:
    rule = schema["synchronizationRules"][0]
    return next(m for m in rule["objectMappings"] if m["sourceObjectName"] == "User")


def break_target_object(schema: dict) -> str:
    user_mapping(schema)["targetObjectName"] = "NoSuchObjectType"
    return "NoSuchObjectType"


def break_target_attribute(schema: dict) -> str:
    user_mapping(schema)["attributeMappings"][0]["targetAttributeName"] = "noSuchAttribute"
    return "noSuchAttribute"


def break_directory_name(schema: dict) -> str:
    schema["synchronizationRules"][0]["targetDirectoryName"] = "No Such Directory"
    return "No Such Directory"


@pytest.mark.parametrize("breaker", [break_target_object, break_target_attribute, break_directory_name])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_invalid_schema_is_400_and_changes_nothing(http, world, breaker, method):
    before = job_schema(http, world)
    schema = copy.deepcopy(before)
    bad_name = breaker(schema)
    response = http.request(method, f"{world.sync}/jobs/{world.job}/schema", json=schema)
    error = check_graph_error(response, 400)
    assert bad_name in error["message"], error["message"]
    assert job_schema(http, world) == before


def test_invalid_template_schema_changes_nothing(http, world):
    sync = f"/v1.0/applications/{world.app['id']}/synchronization"
    before = check_status(http.get(f"{sync}/templates/scim", params={"$expand": "schema"}), 200).json()
    schema = copy.deepcopy(before["schema"])
    break_target_attribute(schema)
    response = http.put(f"{sync}/templates/scim", json={"description": "new description", "schema": schema})
    error = check_graph_error(response, 400)
    assert "noSuchAttribute" in error["message"]
    after = check_status(http.get(f"{sync}/templates/scim", params={"$expand": "schema"}), 200).json()
    assert after == before
    response = http.post(f"{sync}/templates", json={"id": "brokenTemplate", "schema": schema})
    check_graph_error(response, 400)
    check_graph_error(http.get(f"{sync}/templates/brokenTemplate"), 404)


def test_schema_put_of_what_get_returned_is_accepted(http, fresh):
    schema = job_schema(http, fresh)
    check_status(http.put(f"{fresh.sync}/jobs/{fresh.job}/schema", json=schema), 204)
    after = job_schema(http, fresh)
    assert after["synchronizationRules"] == schema["synchronizationRules"]


@pytest.mark.parametrize("template_id", ["t" * 129, "with/slash"])
def test_template_id_that_cannot_be_addressed_is_400(http, world, template_id):
    sync = f"/v1.0/applications/{world.app['id']}/synchronization"
    check_graph_error(http.post(f"{sync}/templates", json={"id": template_id}), 400)
    listed = check_status(http.get(f"{sync}/templates"), 200).json()["value"]
    assert template_id not in [t["id"] for t in listed]


def test_directory_without_a_name_is_400_and_changes_nothing(http, fresh):
    before = job_schema(http, fresh)
    response = http.patch(f"{fresh.sync}/jobs/{fresh.job}/schema/directories/{fresh.directory}",
                          json={"name": None})
    error = check_graph_error(response, 400)
    assert "name" in error["message"]
    assert job_schema(http, fresh) == before


def test_instantiate_with_a_blank_display_name_is_400(http):
    for name in ("", "   "):
        response = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                             json={"displayName": name})
        error = check_graph_error(response, 400)
        assert "displayName" in error["message"]


# -- durations and restart scopes --------------------------------------------------------------

@pytest.mark.parametrize("sent, shown", [
    ("PT40M", "PT40M"), ("0:40:00", "PT40M"), ("1 day, 0:00:05", "P1DT5S"), ("1.00:40:00", "P1DT40M"),
    ("PT1H30M", "PT1H30M"), ("P1D", "P1D"),
])
def test_schedule_interval_forms(http, world, sent, shown):
    check_status(http.patch(f"{world.sync}/jobs/{world.job}", json={"schedule": {"interval": sent}}), 204)
    job = check_status(http.get(f"{world.sync}/jobs/{world.job}"), 200).json()
    assert job["schedule"]["interval"] == shown


@pytest.mark.parametrize("sent", ["forty minutes", "40", "PT", "P", "PT-5M", "-PT5M", "PT0S", "P9999999999D",
                                  "99999999999:00:00", "", 40, None])
def test_bad_schedule_interval_is_400(http, world, sent):
    url = f"{world.sync}/jobs/{world.job}"
    check_status(http.patch(url, json={"schedule": {"interval": "PT30M"}}), 204)
    error = check_graph_error(http.patch(url, json={"schedule": {"interval": sent}}), 400)
    assert "interval" in error["message"], error["message"]
    assert http.get(url).json()["schedule"]["interval"] == "PT30M"


@pytest.mark.parametrize("body", [
    {"criteria": {"resetScope": "Watermark, Escrows"}},
    {"criteria": {"resetScope": "Watermark,Escrows"}},
    {"criteria": {"resetScope": "watermark , escrows,QuarantineState"}},
    {"criteria": {"resetScope": ["Watermark", "Escrows"]}},
    {"criteria": {"resetScope": "Full"}},
    {"criteria": {}},
    {},
    None,
], ids=lambda b: json.dumps(b))
def test_restart_scopes(http, fresh, body):
    url = f"{fresh.sync}/jobs/{fresh.job}"
    check_status(http.post(f"{url}/restart", **({"json": body} if body is not None else {})), 204)
    job = check_status(http.get(url), 200).json()
    assert job["schedule"]["state"] == "Active" and job["schedule"]["interval"] == "PT40M"


@pytest.mark.parametrize("scope", ["Watermark, Everything", "Sometimes", 5, {"Watermark": True}])
def test_restart_with_unknown_scope_is_400(http, world, scope):
    error = check_graph_error(http.post(f"{world.sync}/jobs/{world.job}/restart",
                                        json={"criteria": {"resetScope": scope}}), 400)
    assert "resetScope" in error["message"], error["message"]


# -- unexpected errors -------------------------------------------------------------------------

def test_unexpected_error_is_a_graph_error_with_request_ids(http, world, monkeypatch):
    """A bug in a service is a 500 with a Graph error body and request ids, reveals nothing, and the
    client's connection stays usable."""
    from graphsync.services import synchronization

    def broken(ctx, owner):
        raise RuntimeError("internal detail SELECT * FROM sync_secrets")

    monkeypatch.setattr(synchronization, "ping", broken)
    cid = str(uuid.uuid4())
    response = http.get(world.sync.replace("/v1.0/", "/beta/") + "/Ping()", headers={"client-request-id": cid})
    error = check_graph_error(response, 500, client_request_id=cid)
    assert "internal detail" not in response.text
    assert error["code"] == "InternalServerError"
    check_status(http.get(f"{world.sync}/jobs"), 200)


# -- secrets are never shown, stored or logged in clear -----------------------------------------

@contextmanager
def every_log_record(caplog) -> Iterator[list[logging.LogRecord]]:
    """Every log record of every logger, at DEBUG, while the block runs."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate:
            logger.addHandler(caplog.handler)
    caplog.clear()
    try:
        yield caplog.records
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            if caplog.handler in logger.handlers:
                logger.removeHandler(caplog.handler)


def record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not format is still searched
        message = f"{record.msg} {record.args}"
    return f"{message} {record.exc_text or ''} {record.stack_info or ''}"


def test_secrets_are_never_in_clear(server, http, fresh, caplog):
    marker = f"sekrit-{uuid.uuid4().hex}"
    with every_log_record(caplog) as records:
        check_status(http.put(f"{fresh.sync}/secrets", json={"value": [
            {"key": "BaseAddress", "value": "https://scim.example.test/scim"},
            {"key": "SecretToken", "value": marker}]}), 204)
        bodies = [
            check_status(http.get(fresh.sync), 200).text,
            check_status(http.get(f"{fresh.sync}/secrets"), 200).text,
            check_status(http.get(f"{fresh.sync}/secrets/$count"), 200).text,
            check_status(http.get(f"{fresh.sync}/jobs/{fresh.job}"), 200).text,
            check_status(http.get(f"{fresh.sync}/jobs"), 200).text,
            check_status(http.patch(fresh.sync, json={"secrets": [
                {"key": "SyncAll", "value": "False"}]}), 200).text,
            check_status(http.put(f"{fresh.sync}/secrets", json={"value": [
                {"key": "SecretToken", "value": marker}, {"key": "Bogus", "value": "x"}]}), 400).text,
            check_status(http.post(f"{fresh.sync}/jobs/{fresh.job}/validateCredentials", json={"credentials": [
                {"key": "SecretToken", "value": marker}, {"key": "SyncAll", "value": "maybe"}]}), 400).text,
        ]
        logged = [record_text(r) for r in records]
    # the capture saw the server's database statements on secrets (with their parameters)
    assert any("sync_secrets" in line for line in logged), "the log capture must see the server's records"
    for body in bodies:
        assert marker not in body
    secrets = {s["key"]: s["value"] for s in json.loads(bodies[1])["value"]}
    assert secrets == {"BaseAddress": "https://scim.example.test/scim", "SecretToken": "*"}
    assert [line for line in logged if marker in line] == []

    with server.runtime.db.engine.connect() as conn:
        stored = conn.execute(select(sync_secrets.c.value).where(sync_secrets.c.owner_id == fresh.sp["id"],
                                                                 sync_secrets.c.key == "SecretToken")).scalars().all()
        assert len(stored) == 1 and marker not in stored[0]
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert marker not in repr(tuple(row)), table.name
