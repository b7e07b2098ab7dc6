"""Hostile input on every route: no answer is a 5xx, every refusal is a Graph error body.

The regression net of the fuzzing pass of 2026-12-06, which found 500s for lone UTF-16
surrogate escapes (``"\\ud800"``) in JSON bodies, NaN, Infinity and 1e400, deeply nested bodies,
date-times with no UTC form (``9999-12-31T23:59:59-10:00``), malformed BaseAddress secrets and
parseExpression on object inputs. Instead of one test per finding, a fixed and deterministic set
of hostile requests goes to every route, so a route added later is covered without asking:

* the routes come from the application's own route table (a throw-away app built at collection);
  path parameters get the real ids of a fresh tenant's objects (SCIM app, service principal, job
  and its schema directory, the ``scim`` template, users, a group, a deleted user, and an inbound
  API2AAD job for bulkUpload), so requests reach the services and the store, not a 404;
* every route that takes a JSON body gets malformed JSON, bodies that are not objects, an empty
  body, NUL and surrogate keys, bodies nested 10,000 deep or over the size limit, the wrong
  content type; and, from a sample body it accepts (``SAMPLE_BODIES``), one field at a time
  replaced by each hostile value (the full set on top-level fields, a smaller one on the fields
  below them, down to three property names deep);
* every Graph GET route, on v1.0 and beta, gets bad query options ($top, $skip, $filter,
  $select, $orderby, $expand, $count, $skiptoken, $deltatoken).

Every answer must be below 500 (acquireAccessToken's documented 501 aside) and every 4xx must
carry Graph's error body; one test per route collects all failures and lists them at once.
Afterwards the tenant's users, applications, service principals, jobs and schema still read
(nothing half-saved broke a later read). One storage backend is enough: the database backends
are tested elsewhere; this is about what the API lets through.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator

import httpx
import pytest

from graphsync.config import Settings
from graphsync.testing import free_port
from tests.api.graph_asserts import check_graph_error
from tests.conftest import SCIM_APP_TEMPLATE, bearer_client

# One storage backend is enough (see the docstring); the route table check needs none.
sqlite_only = pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True, scope="session")

API_APP_TEMPLATE = "557df4cf-766b-4086-85d9-55769b9c02cb"  # API-driven provisioning to Microsoft Entra ID
SYNC = re.compile(r"^/\{version\}/(applications|servicePrincipals)/\{owner_id\}/synchronization")


# -- the route table ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the route's template, e.g. /{version}/users/{user_id}
    parent: str | None = None  # for the schema routes: 'jobs' or 'templates'

    @property
    def key(self) -> tuple[str, str]:
        """(method, path) with the synchronization prefix of either root shortened to ``{sync}``."""
        return self.method, SYNC.sub("{sync}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" [{self.parent}]" if self.parent else "")


def _leaf_routes(routes) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # FastAPI's included router
            yield from route.effective_route_contexts()
        elif hasattr(route, "routes") and not hasattr(route, "methods"):  # a Mount
            yield from _leaf_routes(route.routes)
        else:
            yield route


def route_table() -> list[Route]:
    """Every (method, path) the application serves, from its own route table; HEAD is GET's
    twin, DELETE is left out (it takes no body and would remove what the other routes use)."""
    from graphsync.api.app import create_app
    app = create_app(Settings(database_url="memory", engine=False, emulator=True, port=free_port()))
    try:
        found: list[Route] = []
        for route in _leaf_routes(app.router.routes):
            for method in sorted(getattr(route, "methods", None) or ()):
                if method in ("HEAD", "DELETE") or not getattr(route, "path", None):
                    continue
                parents = ("jobs", "templates") if "{parent}" in route.path else (None,)
                found += [Route(method, route.path, parent) for parent in parents]
        return list(dict.fromkeys(found))
    finally:
        app.state.runtime.close()


ROUTES = route_table()

# Write routes that take no JSON body, and why they are not sent any.
NOT_JSON = {
    ("POST", "/graphsync/tenants"): "the emulator's tenant factory takes no body (each call makes a tenant)",
    ("POST", "/{tenant}/oauth2/v2.0/token"): "a form, not JSON, answered with OAuth's error shape (test_oauth)",
    ("POST", "{sync}/jobs/{job_id}/start"): "no body; restart (fuzzed) is start with criteria",
    ("POST", "{sync}/{parent}/{parent_id}/schema/directories/{directory_id}/discover"): "no body; calls the target",
    ("POST", "/{version}/directory/deletedItems/{object_id}/restore"): "no body; restores the user the others read",
}

# A body each write route accepts (or comes close to), its fields mutated one at a time.
# Placeholders in strings ({user}, {sp}, ...) are filled with the world's ids. None: the route
# reads no body, and gets only the whole-body mutations.
OUTBOUND_SECRETS = [{"key": "BaseAddress", "value": "http://127.0.0.1:9/scim"}, {"key": "SecretToken", "value": "t"}]
SCIM_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCHEMA = {  # the scim template's schema cut down to one object each side and two mappings
    "directories": [
        {"id": "{directory}", "name": "Microsoft Entra ID", "objects": [{"name": "User", "attributes": [
            {"name": "objectId", "anchor": True}, {"name": "displayName", "type": "String"}]}]},
        {"name": "customappsso", "objects": [{"name": SCIM_USER, "attributes": [
            {"name": "externalId"}, {"name": "userName", "required": True}]}]}],
    "synchronizationRules": [{
        "id": "{rule}", "name": "USERGROUP_OUTBOUND_USERGROUP", "sourceDirectoryName": "Microsoft Entra ID",
        "targetDirectoryName": "customappsso", "objectMappings": [{
            "name": "Provision Microsoft Entra ID Users", "sourceObjectName": "User", "targetObjectName": SCIM_USER,
            "flowTypes": "Add, Update, Delete", "attributeMappings": [
                {"targetAttributeName": "externalId", "matchingPriority": 1,
                 "source": {"type": "Attribute", "name": "objectId"}},
                {"targetAttributeName": "userName",
                 "source": {"type": "Function", "expression": 'Join("@", [displayName], "contoso.test")'}}]}]}],
}
BULK = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "failOnErrors": None, "Operations": [{
    "method": "POST", "bulkId": "b1", "path": "/Users", "data": {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "E1",
        "userName": "e1@contoso.test", "name": {"givenName": "Ada", "familyName": "B"}, "active": True}}]}
SAMPLE_BODIES: dict[tuple[str, str], dict | None] = {
    ("PATCH", "{sync}"): {"secrets": OUTBOUND_SECRETS[:1]},
    ("PUT", "{sync}"): {"secrets": OUTBOUND_SECRETS},
    ("PUT", "{sync}/secrets"): {"value": OUTBOUND_SECRETS},
    ("POST", "{sync}/acquireAccessToken"): None,
    ("POST", "{sync}/jobs"): {"templateId": "scim"},
    ("POST", "{sync}/jobs/validateCredentials"): {"templateId": "scim", "credentials": OUTBOUND_SECRETS},
    ("PATCH", "{sync}/jobs/{job_id}"): {"schedule": {"interval": "PT40M", "expiration": None},
                                        "synchronizationJobSettings": [{"name": "ScimConcurrency", "value": "4"}]},
    ("POST", "{sync}/jobs/{job_id}/pause"): None,
    ("POST", "{sync}/jobs/{job_id}/restart"): {"criteria": {"resetScope": "Watermark, Escrows"}},
    ("POST", "{sync}/jobs/{job_id}/validateCredentials"): {"useSavedCredentials": False,
                                                            "credentials": OUTBOUND_SECRETS},
    ("POST", "{sync}/jobs/{job_id}/provisionOnDemand"): {"parameters": [{"ruleId": "{rule}", "subjects": [
        {"objectId": "{user}", "objectTypeName": "User"}]}]},
    ("POST", "{sync}/jobs/{job_id}/bulkUpload"): BULK,
    ("POST", "{sync}/templates"): {"id": "custom", "factoryTag": "custom", "description": "d"},
    ("PUT", "{sync}/templates/{template_id}"): {"description": "d", "metadata": [{"key": "k", "value": "v"}]},
    ("PATCH", "{sync}/templates/{template_id}"): {"description": "d", "metadata": [{"key": "k", "value": "v"}]},
    ("PUT", "{sync}/{parent}/{parent_id}/schema"): SCHEMA,
    ("PATCH", "{sync}/{parent}/{parent_id}/schema"): SCHEMA,
    ("POST", "{sync}/{parent}/{parent_id}/schema/directories"): {
        "name": "Extra", "objects": [{"name": "Thing", "attributes": [{"name": "code"}]}]},
    ("PATCH", "{sync}/{parent}/{parent_id}/schema/directories/{directory_id}"): {
        "readOnly": False, "version": "2", "discoverabilities": "None"},
    ("POST", "{sync}/{parent}/{parent_id}/schema/parseExpression"): {
        "expression": 'Split([givenName], ",")',
        "testInputObject": {"definition": {"name": "User", "attributes": [{"name": "givenName"}]},
                            "properties": [{"key": "givenName", "value": "Ada,Lovelace"}]},
        "targetAttributeDefinition": {"name": "userName"}},
    ("POST", "/{version}/users"): {"displayName": "Fuzz", "userPrincipalName": "fuzz@contoso.test",
                                   "mailNickname": "fuzz", "accountEnabled": True,
                                   "passwordProfile": {"password": "Xx1!xxxxxxxx"}},
    ("PATCH", "/{version}/users/{user_id}"): {"city": "Bonn", "employeeHireDate": "2020-01-01T00:00:00Z",
                                              "employeeOrgData": {"division": "R&D"}, "businessPhones": ["1"]},
    ("PUT", "/{version}/users/{user_id}/manager/$ref"): {
        "@odata.id": "https://graph.microsoft.com/v1.0/users/{user2}"},
    ("POST", "/{version}/groups"): {"displayName": "Fuzz", "mailEnabled": False, "securityEnabled": True,
                                    "mailNickname": "fuzz",
                                    "members@odata.bind": ["https://graph.microsoft.com/v1.0/directoryObjects/{user}"]},
    ("PATCH", "/{version}/groups/{group_id}"): {"description": "d", "groupTypes": []},
    ("POST", "/{version}/groups/{group_id}/members/$ref"): {
        "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{user2}"},
    ("POST", "/{version}/servicePrincipals/{sp_id}/appRoleAssignedTo"): {
        "principalId": "{user}", "resourceId": "{sp}", "appRoleId": "00000000-0000-0000-0000-000000000000"},
    ("POST", "/{version}/applications"): {"displayName": "Fuzz", "tags": ["t"], "web": {"redirectUris": []}},
    ("PATCH", "/{version}/applications/{object_id}"): {"notes": "n", "web": {"redirectUris": ["https://a.test"]}},
    ("POST", "/{version}/servicePrincipals"): {"appId": "{spare_app_id}", "tags": ["t"]},
    ("PATCH", "/{version}/servicePrincipals/{object_id}"): {"notes": "n", "tags": ["t"]},
    ("POST", "/{version}/applicationTemplates/{template_id}/instantiate"): {"displayName": "Fuzz"},
}
# The one documented 5xx: acquireAccessToken is not implemented (501 with a Graph error body).
ALLOWED_5XX = {("POST", "{sync}/acquireAccessToken"): 501}

WRITE_ROUTES = [r for r in ROUTES if r.method in ("POST", "PUT", "PATCH") and r.key not in NOT_JSON]
GET_ROUTES = [r for r in ROUTES if r.method == "GET"]


# -- hostile values ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Raw:
    """JSON text put into a body as is (what json.dumps cannot or should not write)."""
    text: str


DEEP_LIST = Raw("[" * 900 + "]" * 900)
# every value for a top-level field; json.dumps(ensure_ascii=True) keeps "\ud800" and NUL as escapes
TOP_VALUES: dict[str, Any] = {
    "surrogate": "\ud800", "NUL": "a\x00b", "NaN": Raw("NaN"), "1e400": Raw("1e400"), "2**70": 2 ** 70, "-1": -1,
    "100k chars": "x" * 100_000, "900 deep": DEEP_LIST, "object": {"a": {"b": 1}}, "list": [{"a": 1}, "b"],
    "true": True, "null": None, "no-UTC date": "9999-12-31T23:59:59-10:00",
}
# the fields below the top level get fewer (enough for every 2026-12-06 finding)
NESTED_VALUES = {name: TOP_VALUES[name] for name in
                 ("surrogate", "NUL", "NaN", "1e400", "2**70", "100k chars", "object", "list", "null",
                  "no-UTC date")}
MAX_DEPTH = 3  # property names on a field's path (list indexes do not count)

_JSON_BODIES: dict[str, bytes] = {  # each sent as application/json
    "malformed": b'{"a": 1,',
    "truncated": b'{"a',
    "array": b"[]",
    "array of objects": b'[{"a": 1}]',
    "string": b'"s"',
    "number": b"1",
    "null": b"null",
    "empty": b"",
    "blank": b"  \n",
    "NaN": b"NaN",
    "1e400": b"1e400",
    "not UTF-8": b'{"a": "\xff\xfe"}',
    "UTF-16": '{"a": "é"}'.encode("utf-16"),
    "surrogate key": b'{"\\ud800": 1}',
    "NUL key": b'{"\\u0000": 1}',
    "duplicate keys": b'{"a": 1, "a": 2}',
    "10000 deep list": b'{"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "2000 deep object": b'{"x": ' + b'{"a": ' * 2000 + b"1" + b"}" * 2000 + b"}",
    "over the size limit": b'{"x": "' + b"a" * 300_000 + b'"}',
}
WHOLE_BODIES: dict[str, tuple[bytes, str]] = {name: (raw, "application/json") for name, raw in _JSON_BODIES.items()}
WHOLE_BODIES["text/plain"] = (b"{}", "text/plain")

QUERIES = [
    "$top=-1", "$top=abc", "$top=99999999999999999999", "$top=1e3", "$skip=-1", "$skip=abc",
    "$count=maybe", "$count=true&$count=false",
    "$filter=", "$filter=(", "$filter=frobnicate eq 'x'", "$filter=displayName eq",
    "$filter=displayName eq 'x", "$filter=startswith(displayName,", "$filter=displayName eq 1e400",
    "$filter=displayName eq '%ED%A0%80'", "$filter=displayName eq '%00'", "$filter=" + "(" * 2000 + "x",
    "$filter=activityDateTime gt 9999-12-31T23:59:59-10:00", "$filter=activityDateTime gt 2020-13-45",
    "$filter=jobId eq '%ED%A0%80'",
    "$select=,,,", "$select=frobnicate,%00", "$orderby=frobnicate", "$orderby=activityDateTime sideways",
    "$expand=frobnicate", "$search=x", "$frobnicate=1",
    "$skiptoken=abc", "$skiptoken=eyJvIjoxZTQwMH0", "$skiptoken=W10", "$deltatoken=abc", "$deltatoken=eyJzZXEiOi0xfQ",
]


# -- the world --------------------------------------------------------------------------------------

@dataclass
class World:
    """A fresh tenant's objects. ``owners[root]`` are the ids under ``/{root}/{id}/synchronization``
    (an application or a service principal each own their jobs): owner, job, rule, the schema
    directory of the job and of the ``scim`` template; ``inbound[root]`` an API2AAD owner and job."""
    tenant_id: str
    ids: dict[str, str]
    owners: dict[str, dict[str, str]]
    inbound: dict[str, dict[str, str]]

    def path(self, route: Route, version: str = "v1.0") -> str:
        """``route``'s path with real ids in its parameters."""
        path, root = route.path, self.root(route)
        sync = (self.inbound if path.endswith("/bulkUpload") else self.owners).get(root, {})
        values = {
            "version": version, "tenant": self.tenant_id, "name": "index.html", "user_id": self.ids["user"],
            "group_id": self.ids["group"], "sp_id": self.ids["sp"], "owner_id": sync.get("owner"),
            "job_id": sync.get("job"), "parent": route.parent,
            "parent_id": sync.get("job") if route.parent == "jobs" else "scim",
            "directory_id": sync.get(f"{route.parent}_directory"),
        }

        def fill(match: re.Match) -> str:
            name, before = match.group(1), path[:match.start()]
            if name == "object_id":
                kind = before[before.rindex("/", 0, -1):]
                value = {"/applications/": self.ids["app"], "/servicePrincipals/": self.ids["sp"],
                         "/deletedItems/": self.ids["deleted_user"]}.get(kind)
            elif name == "template_id":
                value = SCIM_APP_TEMPLATE if before.endswith("/applicationTemplates/") else "scim"
            else:
                value = values.get(name)
            if value is None:
                pytest.fail(f"no id for the path parameter '{name}' of {route}: add one in World.path")
            return value

        return re.sub(r"\{(\w+)(?::\w+)?\}", fill, path)

    @staticmethod
    def root(route: Route) -> str | None:
        match = SYNC.match(route.path)
        return match.group(1) if match else None

    def refresh(self, client: httpx.Client, route: Route) -> list[str]:
        """Read the rule and directory ids again: a schema the fuzz saved (a valid mutation of
        the sample) may have given them new ones. Returns the reads that failed."""
        ids = self.owners.get(self.root(route))
        if ids is None:
            return []
        failed = []
        sync = f"/v1.0/{self.root(route)}/{ids['owner']}/synchronization"
        for parent, parent_id in (("jobs", ids["job"]), ("templates", "scim")):
            response = client.get(f"{sync}/{parent}/{parent_id}/schema")
            if response.status_code != 200:
                failed.append(f"GET {sync}/{parent}/{parent_id}/schema before the fuzz -> {response.status_code} "
                              f"{response.text[:200]}")
                continue
            schema = response.json()
            if schema.get("directories"):
                ids[f"{parent}_directory"] = schema["directories"][0]["id"]
            if parent == "jobs" and schema.get("synchronizationRules"):
                ids["rule"] = schema["synchronizationRules"][0]["id"]
        return failed

    def fill(self, body: Any, route: Route) -> Any:
        """``body`` with the placeholders in its strings ({user}, {rule}, ...) replaced by ids."""
        ids = dict(self.ids, **self.owners.get(self.root(route), {}))
        if route.parent:
            ids["directory"] = ids[f"{route.parent}_directory"]

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, str):
                return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), m.group(0)), value)
            return value

        return walk(body)


def created(response: httpx.Response) -> dict:
    assert response.status_code in (200, 201), \
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
    return response.json()


@pytest.fixture(scope="module")
def fuzz_tenant(server) -> dict:
    return created(httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "fuzz"}))


@pytest.fixture(scope="module")
def client(server, fuzz_tenant) -> Iterator[httpx.Client]:
    with bearer_client(server, fuzz_tenant["accessToken"]) as http:
        yield http


@pytest.fixture(scope="module")
def world(client, fuzz_tenant) -> World:
    def instantiate(template: str, name: str) -> tuple[dict, dict]:
        doc = created(client.post(f"/v1.0/applicationTemplates/{template}/instantiate", json={"displayName": name}))
        return doc["application"], doc["servicePrincipal"]

    def job(root: str, owner: str, template: str) -> dict[str, str]:
        sync = f"/v1.0/{root}/{owner}/synchronization"
        job_id = created(client.post(f"{sync}/jobs", json={"templateId": template}))["id"]
        ids = {"owner": owner, "job": job_id}
        if template == "scim":
            schema = created(client.get(f"{sync}/jobs/{job_id}/schema"))
            ids.update(rule=schema["synchronizationRules"][0]["id"], jobs_directory=schema["directories"][0]["id"],
                       templates_directory=created(client.get(f"{sync}/templates/scim/schema"))["directories"][0]["id"])
        else:  # no rate limit: every fuzzed bulkUpload is parsed and staged rather than answered 429
            response = client.patch(f"{sync}/jobs/{job_id}", json={"synchronizationJobSettings": [
                {"name": "BulkUploadRequestsPerSecond", "value": "0"}]})
            assert response.status_code == 204, response.text
        return ids

    def user(name: str) -> str:
        return created(client.post("/v1.0/users", json={
            "displayName": name, "userPrincipalName": f"{name}@contoso.test", "mailNickname": name,
            "accountEnabled": True, "passwordProfile": {"password": "Xx1!xxxxxxxx"}}))["id"]

    app, sp = instantiate(SCIM_APP_TEMPLATE, "Fuzz SCIM")
    inbound_app, inbound_sp = instantiate(API_APP_TEMPLATE, "Fuzz inbound")
    first, second, gone = user("fuzz1"), user("fuzz2"), user("fuzzgone")
    assert client.delete(f"/v1.0/users/{gone}").status_code == 204
    group = created(client.post("/v1.0/groups", json={
        "displayName": "Fuzz group", "mailEnabled": False, "securityEnabled": True, "mailNickname": "fuzzgroup",
        "members@odata.bind": [f"https://graph.microsoft.com/v1.0/directoryObjects/{first}"]}))["id"]
    spare = created(client.post("/v1.0/applications", json={"displayName": "Fuzz spare"}))
    return World(
        fuzz_tenant["tenantId"],
        {"app": app["id"], "sp": sp["id"], "user": first, "user2": second, "deleted_user": gone, "group": group,
         "spare_app_id": spare["appId"]},
        owners={"applications": job("applications", app["id"], "scim"),
                "servicePrincipals": job("servicePrincipals", sp["id"], "scim")},
        inbound={"applications": job("applications", inbound_app["id"], "API2AAD"),
                 "servicePrincipals": job("servicePrincipals", inbound_sp["id"], "API2AAD")})


# -- sending and judging ----------------------------------------------------------------------------

class Judge:
    """Sends requests and keeps every answer that is a 5xx or a 4xx without a Graph error body."""

    def __init__(self, client: httpx.Client, route: Route):
        self.client, self.route, self.failures, self.sent = client, route, [], 0
        self.allowed_5xx = ALLOWED_5XX.get(route.key)
        self.graph = not route.path.startswith("/{tenant}/")  # the token service answers as OAuth does

    def send(self, method: str, url: str, mutation: str, content: bytes | None = None,
             content_type: str | None = None) -> httpx.Response | None:
        headers = {"Content-Type": content_type} if content_type else {}
        self.sent += 1
        try:
            response = self.client.request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            self.failures.append(f"{method} {url[:160]} [{mutation}] -> {type(exc).__name__}: {exc}")
            return None
        status = response.status_code
        problem = None
        if status >= 500 and status != self.allowed_5xx:
            problem = "server error"
        elif status >= 400 and self.graph:
            try:
                check_graph_error(response, status)
            except (AssertionError, KeyError, TypeError, ValueError) as exc:
                problem = f"not a Graph error body ({type(exc).__name__})"
        if problem:
            excerpt = response.text[:200].replace("\n", " ")
            self.failures.append(f"{method} {url[:160]} [{mutation}] -> {status} {problem}: {excerpt}")
        return response

    def verdict(self) -> None:
        if self.failures:  # pytest.fail: an assertion's message would be cut short without -vv
            pytest.fail(f"{len(self.failures)} of {self.sent} requests to {self.route} failed:\n"
                        + "\n".join(self.failures), pytrace=False)


def encode(body: Any) -> bytes:
    """JSON text in ASCII (``\\ud800`` and NUL stay escapes) with the Raw values put in as is."""
    raws: list[str] = []

    def swap(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"__raw_{len(raws) - 1}__"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), ensure_ascii=True)
    for index, raw in enumerate(raws):
        text = text.replace(f'"__raw_{index}__"', raw, 1)
    return text.encode("ascii")


def field_paths(body: Any, path: tuple = ()) -> Iterator[tuple]:
    """The path of every field of ``body`` (into the first item of lists), at most MAX_DEPTH names deep."""
    if isinstance(body, dict):
        for key, value in body.items():
            here = path + (key,)
            yield here
            if sum(isinstance(p, str) for p in here) < MAX_DEPTH:
                yield from field_paths(value, here)
    elif isinstance(body, list) and body:
        yield path + (0,)
        yield from field_paths(body[0], path + (0,))


def replaced(body: Any, path: tuple, value: Any) -> Any:
    copied = copy.deepcopy(body)
    node = copied
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copied


def mutations(sample: dict | None) -> Iterator[tuple[str, bytes, str]]:
    """(description, body, content type): the whole-body ones, then one field at a time."""
    for name, (raw, content_type) in WHOLE_BODIES.items():
        yield name, raw, content_type
    if sample is None:
        return
    yield "sample", encode(sample), "application/json"
    for path in field_paths(sample):
        values = TOP_VALUES if len(path) == 1 else NESTED_VALUES
        shown = ".".join(str(p) for p in path)
        for name, value in values.items():
            yield f"{shown}={name}", encode(replaced(sample, path, value)), "application/json"


# -- the tests --------------------------------------------------------------------------------------

@sqlite_only
@pytest.mark.parametrize("route", WRITE_ROUTES, ids=str)
def test_hostile_bodies(client, world, route):
    judge = Judge(client, route)
    judge.failures += world.refresh(client, route)
    url = world.path(route)
    sample = SAMPLE_BODIES.get(route.key)
    for mutation, body, content_type in mutations(world.fill(sample, route) if sample else None):
        judge.send(route.method, url, mutation, body, content_type)
    if sample:  # what the next routes find is the sample's doing, not the last mutation's
        judge.send(route.method, url, "sample again", encode(world.fill(sample, route)), "application/json")
    judge.verdict()


@sqlite_only
@pytest.mark.parametrize("route", GET_ROUTES, ids=str)
def test_hostile_query_options(client, world, route):
    judge = Judge(client, route)
    if not route.path.startswith("/{version}/"):  # not Graph (dashboard, metrics, docs, OAuth metadata)
        judge.send("GET", world.path(route) + "?$top=-1&$filter=(&$select=%00", "query options")
    else:
        for version in ("v1.0", "beta"):
            url = world.path(route, version)
            judge.send("GET", url, "no query")
            for query in QUERIES:
                judge.send("GET", f"{url}?{query}", query)
    judge.verdict()


def test_every_write_route_has_a_sample_body_or_a_reason_to_have_none():
    """A new write route gets the whole-body mutations anyway; this asks for its sample body."""
    missing = sorted({f"{m} {p}" for m, p in (r.key for r in WRITE_ROUTES) if (m, p) not in SAMPLE_BODIES})
    assert not missing, "add these to SAMPLE_BODIES (or NOT_JSON, saying why):\n" + "\n".join(missing)
    served = {r.key for r in ROUTES}
    stale = sorted(f"{m} {p}" for m, p in set(SAMPLE_BODIES) | set(NOT_JSON) if (m, p) not in served)
    assert not stale, "no longer routes of the app:\n" + "\n".join(stale)


@sqlite_only
def test_the_tenant_still_reads_after_the_fuzz(client, world):
    """Runs last: nothing a fuzzed write saved (half-written or odd) breaks a later read: the
    directory's collections and each object in them, every job and template with its schema."""
    paths = ["/users", "/groups", "/applications", "/servicePrincipals", f"/groups/{world.ids['group']}/members",
             "/auditLogs/provisioning", "/users/delta", "/groups/delta", "/directory/deletedItems/microsoft.graph.user"]
    failures = []

    def each(collection: str) -> list[str]:
        """The paths of the items of a collection (a failure, and none, when it does not read)."""
        response = client.get(f"/v1.0{collection}?$top=999")
        if response.status_code != 200:
            failures.append(f"GET /v1.0{collection} -> {response.status_code} {response.text[:200]}")
            return []
        return [f"{collection}/{item['id']}" for item in response.json()["value"]]

    for path in ("/users", "/groups", "/applications", "/servicePrincipals"):
        paths += each(path)
    for root, ids in [*world.owners.items(), *world.inbound.items()]:
        sync = f"/{root}/{ids['owner']}/synchronization"
        paths += [sync, f"{sync}/secrets", f"{sync}/jobs", f"{sync}/templates"]
        for kind in ("jobs", "templates"):
            paths += [path + tail for path in each(f"{sync}/{kind}") for tail in ("", "/schema")]
    for version in ("v1.0", "beta"):
        for path in paths:
            response = client.get(f"/{version}{path}")
            if response.status_code != 200:
                failures.append(f"GET /{version}{path} -> {response.status_code} {response.text[:200]}")
    if failures:
        pytest.fail(f"{len(failures)} of {2 * len(paths)} reads fail after the fuzz:\n" + "\n".join(failures),
                    pytrace=False)
