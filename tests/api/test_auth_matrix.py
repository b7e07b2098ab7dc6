"""Who may call what: every Graph route graphsync serves, with the permission class it needs.

Each route is called without a token, with tokens the server must refuse, with an unrelated
permission, with a read-only permission, with every permission except the ones it accepts, and
with another tenant's admin token on the first tenant's ids. Every answer must be a Graph error
body with request ids (never a 500), and the other tenant must neither see nor change anything.

The permission classes are written out here from the reference (§1.6), not imported from
``graphsync.api.auth``, so that a route guarded by the wrong class fails a test.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from graphsync.services.tenants import KNOWN_ROLES
from tests.api.graph_asserts import check_graph_error, check_request_ids, describe
from tests.conftest import SCIM_APP_TEMPLATE, bearer_client, token_for

# -- permission classes (application permissions; a ReadWrite permission includes its Read) -------

ALL_ROLES = frozenset(KNOWN_ROLES) | frozenset({
    "Synchronization.Read.All", "Synchronization.ReadWrite.All", "Application.Read.All", "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy", "Directory.Read.All", "Directory.ReadWrite.All",
    "SynchronizationData-User.Upload", "AuditLog.Read.All", "User.ReadWrite.All", "Group.ReadWrite.All",
})
# Application.ReadWrite.OwnedBy is deliberately not accepted anywhere: graphsync does not track owners.
READ = frozenset({"Synchronization.Read.All", "Synchronization.ReadWrite.All"})
WRITE = frozenset({"Synchronization.ReadWrite.All"})
SECRETS = WRITE | {"Application.ReadWrite.All", "Directory.ReadWrite.All"}
APP_READ = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
                      "Directory.ReadWrite.All"})
APP_WRITE = frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"})
DISCOVER = WRITE | {"Directory.ReadWrite.All"}
UPLOAD = frozenset({"SynchronizationData-User.Upload"})  # bulkUpload (API-driven inbound provisioning)
CLASS_NAMES = {READ: "SYNC_READ", WRITE: "SYNC_WRITE", SECRETS: "SECRETS_WRITE", APP_READ: "APP_READ",
               APP_WRITE: "APP_WRITE", DISCOVER: "DISCOVER", UPLOAD: "UPLOAD"}

ROOTS = ("applications", "servicePrincipals")


# -- the route table ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    path: str  # after "/{version}/"; placeholders {owner} {job} {dir} {app} {sp}
    needs: frozenset
    body: Any = None
    version: str = "v1.0"
    root: str = "applications"  # whose ids fill the placeholders
    names_id: bool = True  # the path names an object of the tenant (another tenant must get 404)

    def __str__(self) -> str:
        return f"{self.version} {self.method} {self.path} [{CLASS_NAMES[self.needs]}]"


BULK_UPLOAD = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
    {"method": "POST", "bulkId": "1", "path": "/Users",
     "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "1"}}]}
ON_DEMAND = {"parameters": [{"ruleId": "ea807875-5618-4f0a-9125-0b46a05298ca", "subjects": [
    {"objectId": "7d9e4b1c-0000-4000-8000-000000000001", "objectTypeName": "User"}]}]}


def _schema_routes(root: str, parent: str) -> list[Route]:
    schema = f"{parent}/schema"
    directory = f"{schema}/directories/{{dir_{'job' if '/jobs/' in parent else 'template'}}}"
    return [
        Route("GET", schema, READ, root=root),
        Route("PUT", schema, WRITE, {}, root=root),
        Route("PATCH", schema, WRITE, {}, root=root),
        Route("DELETE", schema, WRITE, root=root),
        Route("GET", f"{schema}/directories", READ, root=root),
        Route("POST", f"{schema}/directories", WRITE, {"name": "Extra directory"}, root=root),
        Route("GET", directory, READ, root=root),
        Route("PATCH", directory, WRITE, {"readOnly": False}, root=root),
        Route("DELETE", directory, WRITE, root=root),
        Route("POST", f"{directory}/discover", DISCOVER, root=root),
        Route("GET", f"{schema}/functions", READ, root=root),
        Route("GET", f"{schema}/functions()", READ, root=root),
        Route("GET", f"{schema}/filterOperators", READ, root=root),
        Route("GET", f"{schema}/filterOperators()", READ, root=root),
        Route("POST", f"{schema}/parseExpression", WRITE, {"expression": "[userPrincipalName]"}, root=root),
    ]


def _synchronization_routes(root: str) -> list[Route]:
    sync = f"{root}/{{owner}}/synchronization"
    job = f"{sync}/jobs/{{job}}"
    template = f"{sync}/templates/scim"
    routes = [
        Route("GET", sync, READ, root=root),
        Route("PUT", sync, SECRETS, {}, root=root),
        Route("PATCH", sync, SECRETS, {}, root=root),
        Route("DELETE", sync, WRITE, root=root),
        Route("GET", f"{sync}/secrets", READ, root=root),
        Route("GET", f"{sync}/secrets/$count", READ, root=root),
        Route("PUT", f"{sync}/secrets", SECRETS, {"value": []}, root=root),
        Route("POST", f"{sync}/acquireAccessToken", WRITE, {"credentials": []}, root=root),
        Route("GET", f"{sync}/jobs", READ, root=root),
        Route("GET", f"{sync}/jobs/$count", READ, root=root),
        Route("POST", f"{sync}/jobs", WRITE, {"templateId": "scim"}, root=root),
        Route("POST", f"{sync}/jobs/validateCredentials", WRITE, {"useSavedCredentials": True, "templateId": "scim"},
              root=root),
        Route("GET", job, READ, root=root),
        Route("PATCH", job, WRITE, {"schedule": {"interval": "PT40M"}}, root=root),
        Route("DELETE", job, WRITE, root=root),
        Route("POST", f"{job}/start", WRITE, root=root),
        Route("POST", f"{job}/pause", WRITE, root=root),
        Route("POST", f"{job}/restart", WRITE, {"criteria": {"resetScope": "Watermark"}}, root=root),
        Route("POST", f"{job}/validateCredentials", WRITE, {"useSavedCredentials": True}, root=root),
        Route("POST", f"{job}/provisionOnDemand", WRITE, ON_DEMAND, root=root),
        Route("POST", f"{job}/bulkUpload", UPLOAD, BULK_UPLOAD, root=root),
        Route("GET", f"{sync}/templates", READ, root=root),
        Route("POST", f"{sync}/templates", WRITE, {"id": "matrixTemplate"}, root=root),
        Route("GET", template, READ, root=root),
        Route("PATCH", template, WRITE, {"description": "changed"}, root=root),
        Route("PUT", template, WRITE, {"description": "changed"}, root=root),
        Route("DELETE", template, WRITE, root=root),
    ]
    return routes + _schema_routes(root, job) + _schema_routes(root, template)


APPLICATION_ROUTES = [
    Route("GET", "applications", APP_READ, names_id=False),
    Route("POST", "applications", APP_WRITE, {"displayName": "Matrix app"}, names_id=False),
    Route("GET", "applications/{app}", APP_READ),
    Route("PATCH", "applications/{app}", APP_WRITE, {"notes": "changed"}),
    Route("DELETE", "applications/{app}", APP_WRITE),
    Route("GET", "servicePrincipals", APP_READ, names_id=False),
    Route("POST", "servicePrincipals", APP_WRITE, {"appId": "{app_id}"}, names_id=False),
    Route("GET", "servicePrincipals/{sp}", APP_READ),
    Route("PATCH", "servicePrincipals/{sp}", APP_WRITE, {"notes": "changed"}),
    Route("DELETE", "servicePrincipals/{sp}", APP_WRITE),
    Route("GET", "applicationTemplates", APP_READ, names_id=False),
    Route("GET", f"applicationTemplates/{SCIM_APP_TEMPLATE}", APP_READ, names_id=False),
    Route("POST", f"applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate", APP_WRITE, {"displayName": "Matrix app"},
          names_id=False),
]


def _beta(route: Route) -> Route:
    return Route(route.method, route.path, route.needs, route.body, "beta", route.root, route.names_id)


V1_ROUTES = [r for root in ROOTS for r in _synchronization_routes(root)] + APPLICATION_ROUTES
_BETA_SAMPLE = {
    ("GET", "servicePrincipals/{owner}/synchronization"),
    ("GET", "servicePrincipals/{owner}/synchronization/jobs"),
    ("GET", "servicePrincipals/{owner}/synchronization/jobs/{job}"),
    ("POST", "servicePrincipals/{owner}/synchronization/jobs/{job}/start"),
    ("PUT", "servicePrincipals/{owner}/synchronization/secrets"),
    ("GET", "servicePrincipals/{owner}/synchronization/jobs/{job}/schema"),
    ("GET", "servicePrincipals/{owner}/synchronization/jobs/{job}/schema/functions()"),
    ("POST", "servicePrincipals/{owner}/synchronization/jobs/{job}/schema/parseExpression"),
    ("GET", "applications/{owner}/synchronization/templates/scim"),
    ("GET", "applications/{app}"),
    ("GET", "servicePrincipals/{sp}"),
    ("POST", f"applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate"),
}
BETA_ROUTES = [_beta(r) for r in V1_ROUTES if (r.method, r.path) in _BETA_SAMPLE] + [
    Route("GET", f"{root}/{{owner}}/synchronization/{ping}", READ, version="beta", root=root)
    for root in ROOTS for ping in ("Ping()", "ping()")]
ROUTES = V1_ROUTES + BETA_ROUTES
ID_ROUTES = [r for r in ROUTES if r.names_id]

assert len({str(r) for r in ROUTES}) == len(ROUTES), "route ids must be unique"
assert len(BETA_ROUTES) == len(_BETA_SAMPLE) + 4, "every beta sample must name a route of the table"


# -- the world: one tenant with an app, its service principal, a job under each root ----------

@dataclass
class World:
    tenant: dict
    app: dict
    sp: dict
    jobs: dict[str, str]  # root -> job id
    dir_job: dict[str, str]  # root -> a directory id of that root's job schema
    dir_template: str  # a directory id of the scim template schema

    def ids(self, root: str) -> dict[str, str]:
        owner = self.app["id"] if root == "applications" else self.sp["id"]
        return {"owner": owner, "job": self.jobs[root], "dir_job": self.dir_job[root],
                "dir_template": self.dir_template, "app": self.app["id"], "sp": self.sp["id"],
                "app_id": self.app["appId"]}


def new_tenant(server) -> dict:
    response = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "auth matrix"})
    assert response.status_code == 201, response.text
    return response.json()


def admin_client(server, tenant: dict) -> httpx.Client:
    return bearer_client(server, tenant["accessToken"])


def build_world(server, secrets: bool = True) -> World:
    tenant = new_tenant(server)
    with admin_client(server, tenant) as http:
        created = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                            json={"displayName": "Contoso SCIM"})
        assert created.status_code == 201, created.text
        app, sp = created.json()["application"], created.json()["servicePrincipal"]
        jobs, dirs = {}, {}
        for root, owner in (("applications", app["id"]), ("servicePrincipals", sp["id"])):
            sync = f"/v1.0/{root}/{owner}/synchronization"
            job = http.post(f"{sync}/jobs", json={"templateId": "scim"})
            assert job.status_code == 201, job.text
            jobs[root] = job.json()["id"]
            schema = http.get(f"{sync}/jobs/{jobs[root]}/schema")
            assert schema.status_code == 200, schema.text
            dirs[root] = schema.json()["directories"][-1]["id"]
            if secrets:
                put = http.put(f"{sync}/secrets", json={"value": [
                    {"key": "BaseAddress", "value": "https://scim.example.test/scim"},
                    {"key": "SecretToken", "value": f"token-{uuid.uuid4()}"}]})
                assert put.status_code == 204, put.text
        template = http.get(f"/v1.0/applications/{app['id']}/synchronization/templates/scim/schema")
        assert template.status_code == 200, template.text
        dir_template = template.json()["directories"][0]["id"]
    return World(tenant, app, sp, jobs, dirs, dir_template)


@pytest.fixture(scope="module")
def world(server) -> World:
    return build_world(server)


@pytest.fixture(scope="module")
def other_tenant(server) -> dict:
    return new_tenant(server)


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def tokens(server, world):
    """Tokens of the world's tenant with chosen permissions (minted once per role set)."""
    cache: dict[frozenset, str] = {}

    def mint(roles) -> str:
        key = frozenset(roles)
        if key not in cache:
            cache[key] = token_for(server, world.tenant["tenantId"], sorted(key))
        return cache[key]

    return mint


# -- calling and checking -------------------------------------------------------------------

def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def call(client: httpx.Client, route: Route, ids: dict[str, str], token: str | None = None, *,
         authorization: str | None = None, client_request_id: str | None = None) -> httpx.Response:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if client_request_id:
        headers["client-request-id"] = client_request_id
    body = fill(route.body, ids)
    return client.request(route.method, f"/{route.version}/{route.path.format(**ids)}", headers=headers,
                          **({"json": body} if body is not None else {}))








def check_success(response: httpx.Response) -> None:
    assert 200 <= response.status_code < 300, describe(response)
    check_request_ids(response)


def snapshot(server, world: World) -> dict[str, Any]:
    """What the world's tenant sees of its objects (compared before and after other tenants act)."""
    paths = [f"/v1.0/applications/{world.app['id']}", f"/v1.0/servicePrincipals/{world.sp['id']}"]
    for root in ROOTS:
        ids = world.ids(root)
        sync = f"/v1.0/{root}/{ids['owner']}/synchronization"
        paths += [sync, f"{sync}/jobs", f"{sync}/jobs/{ids['job']}/schema", f"{sync}/templates?$expand=schema"]
    with admin_client(server, world.tenant) as http:
        responses = {path: http.get(path) for path in paths}
    for response in responses.values():
        assert response.status_code == 200, describe(response)
    return {path: response.json() for path, response in responses.items()}


# -- the table is complete --------------------------------------------------------------------

# The part of the API this table covers: the synchronization sub-tree of both roots, applications,
# service principals and application templates (the directory's users, groups, app role
# assignments and audit logs have their own tests).
IN_SCOPE = re.compile(r"^/\{version\}/(applications|servicePrincipals|applicationTemplates)"
                      r"(/\{[^}/]+\}(/synchronization(/.*)?|/instantiate)?)?$")


def test_the_table_names_every_route_in_scope(server):
    """A route added under these paths without an entry here fails this test (and so gets one)."""
    served = {(path, method.upper()) for path, ops in server.app.openapi()["paths"].items() if IN_SCOPE.match(path)
              for method in ops}
    patterns = {path: re.compile("^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(path)) + "$")
                for path, _ in served}
    reached = set()
    for route in ROUTES:
        concrete = "/{version}/" + re.sub(r"\{[^}/]+\}", "X", route.path)
        candidates = [(path, route.method) for path, pattern in patterns.items()
                      if pattern.match(concrete) and (path, route.method) in served]
        assert candidates, f"{route}: no such route is served"
        reached.add(min(candidates, key=lambda c: c[0].count("{")))  # literal segments win, as in routing
    assert sorted(served - reached) == []


# -- (a) authentication ----------------------------------------------------------------------

FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # a key the server never saw


def bad_authorization(server, world: World, kind: str) -> str:
    """An Authorization header the server must refuse (the claims are otherwise those of an admin)."""
    tokens = server.runtime.tokens
    now = server.runtime.clock.now()
    tenant_id = world.tenant["tenantId"]
    good = tokens.issue(tenant_id, "pytest", sorted(ALL_ROLES), now)
    claims = jwt.decode(good, options={"verify_signature": False})
    kid = tokens.keys.kid
    if kind == "garbage":
        return "Bearer not-a-jwt"
    if kind == "truncated":
        return "Bearer " + good[:-20]
    if kind == "expired":
        lifetime = server.settings.token_lifetime_seconds
        return "Bearer " + tokens.issue(tenant_id, "pytest", sorted(ALL_ROLES), now - timedelta(seconds=lifetime + 300))
    if kind == "foreign-signed":  # our key id, someone else's key
        return "Bearer " + jwt.encode(claims, FOREIGN_KEY, algorithm="RS256", headers={"kid": kid})
    if kind == "unknown-key":
        return "Bearer " + jwt.encode(claims, FOREIGN_KEY, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
    if kind == "alg-none":
        return "Bearer " + jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
    if kind == "wrong-audience":
        claims = dict(claims, aud="https://management.azure.com")
        return "Bearer " + jwt.encode(claims, tokens.keys.private_key, algorithm="RS256", headers={"kid": kid})
    if kind == "wrong-issuer":
        claims = dict(claims, iss="https://login.example.test/evil/v2.0")
        return "Bearer " + jwt.encode(claims, tokens.keys.private_key, algorithm="RS256", headers={"kid": kid})
    if kind == "basic-scheme":
        return "Basic dXNlcjpwYXNz"
    if kind == "bearer-without-token":
        return "Bearer"
    raise AssertionError(kind)


BAD_TOKENS = ("garbage", "truncated", "expired", "foreign-signed", "unknown-key", "alg-none", "wrong-audience",
              "wrong-issuer", "basic-scheme", "bearer-without-token")
# One route per permission class and root, both versions: where every kind of refused token is tried.
TOKEN_SAMPLE = [r for r in ROUTES if (r.version, r.method, r.path) in {
    ("v1.0", "GET", "servicePrincipals/{owner}/synchronization/jobs"),
    ("v1.0", "POST", "applications/{owner}/synchronization/jobs/{job}/start"),
    ("v1.0", "PUT", "servicePrincipals/{owner}/synchronization/secrets"),
    ("v1.0", "POST", "servicePrincipals/{owner}/synchronization/jobs/{job}/schema/directories/{dir_job}/discover"),
    ("v1.0", "GET", "applications"),
    ("v1.0", "PATCH", "servicePrincipals/{sp}"),
    ("beta", "GET", "servicePrincipals/{owner}/synchronization/Ping()"),
}]
assert len(TOKEN_SAMPLE) == 7


@pytest.fixture(scope="module")
def bad_headers(server, world) -> dict[str, str]:
    return {kind: bad_authorization(server, world, kind) for kind in BAD_TOKENS}


def check_unauthenticated(response: httpx.Response, client_request_id: str, kind: str) -> None:
    check_graph_error(response, 401, "InvalidAuthenticationToken", client_request_id)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer"), describe(response)
    if kind not in ("no-token", "basic-scheme", "bearer-without-token"):
        assert 'error="invalid_token"' in challenge, f"{kind}: {challenge}"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_unauthenticated_is_401(client, world, bad_headers, route):
    """No token, a garbage token, an expired one and a foreign-signed one: 401 with a Bearer challenge."""
    for kind in ("no-token", "garbage", "expired", "foreign-signed"):
        cid = str(uuid.uuid4())
        response = call(client, route, world.ids(route.root), authorization=bad_headers.get(kind),
                        client_request_id=cid)
        check_unauthenticated(response, cid, kind)


@pytest.mark.parametrize("kind", BAD_TOKENS)
@pytest.mark.parametrize("route", TOKEN_SAMPLE, ids=str)
def test_refused_token_is_401(client, world, bad_headers, route, kind):
    cid = str(uuid.uuid4())
    response = call(client, route, world.ids(route.root), authorization=bad_headers[kind], client_request_id=cid)
    check_unauthenticated(response, cid, kind)


def test_the_same_token_well_signed_is_accepted(client, world, server):
    """Guards the 401 tests: the claims used for the refused tokens are fine when signed properly."""
    tokens = server.runtime.tokens
    good = tokens.issue(world.tenant["tenantId"], "pytest", sorted(ALL_ROLES), server.runtime.clock.now())
    response = client.get(f"/v1.0/servicePrincipals/{world.sp['id']}/synchronization/jobs",
                          headers={"Authorization": f"Bearer {good}"})
    check_success(response)
    assert [j["id"] for j in response.json()["value"]] == [world.jobs["servicePrincipals"]]


# -- (b) (c) (e) authorization ----------------------------------------------------------------------

@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_without_the_routes_permission_is_403(client, world, tokens, route):
    """An unrelated permission, and every permission except the ones the route accepts: 403."""
    cid = str(uuid.uuid4())
    response = call(client, route, world.ids(route.root), tokens({"AuditLog.Read.All"}), client_request_id=cid)
    error = check_graph_error(response, 403, "Authorization_RequestDenied", cid)
    assert any(permission in error["message"] for permission in route.needs), error["message"]
    response = call(client, route, world.ids(route.root), tokens(ALL_ROLES - route.needs))
    check_graph_error(response, 403, "Authorization_RequestDenied")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_synchronization_read_only_token(client, world, tokens, route):
    """Synchronization.Read.All reads every synchronization object and writes nothing."""
    response = call(client, route, world.ids(route.root), tokens({"Synchronization.Read.All"}))
    if "Synchronization.Read.All" in route.needs:
        check_success(response)
        assert response.status_code == 200, describe(response)
    else:
        check_graph_error(response, 403, "Authorization_RequestDenied")


class TestEachPermissionOfAClass:
    """For one harmless route per class, each single permission is accepted exactly when it is in
    the class (run on a separate tenant, so the world above is not changed)."""

    CASES = [
        ("GET", "servicePrincipals/{sp}/synchronization/jobs", READ, None, 200),
        ("POST", "servicePrincipals/{sp}/synchronization/jobs/{job}/pause", WRITE, None, 204),
        ("PUT", "servicePrincipals/{sp}/synchronization/secrets", SECRETS, {"value": []}, 204),
        ("GET", "applications/{app}", APP_READ, None, 200),
        ("PATCH", "applications/{app}", APP_WRITE, {"notes": "touched"}, 204),
        ("POST", "servicePrincipals/{sp}/synchronization/jobs/{job}/schema/directories/{dir}/discover", DISCOVER,
         None, 200),
    ]

    @pytest.fixture(scope="class")
    def scratch(self, server) -> World:
        return build_world(server, secrets=False)

    @pytest.mark.parametrize("role", sorted(READ | WRITE | SECRETS | APP_READ | APP_WRITE | DISCOVER | {
        "Application.ReadWrite.OwnedBy", "AuditLog.Read.All"}))
    @pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]} {c[1]} [{CLASS_NAMES[c[2]]}]")
    def test_single_permission(self, server, client, scratch, case, role):
        method, path, needs, body, status = case
        ids = dict(scratch.ids("servicePrincipals"), dir=scratch.dir_job["servicePrincipals"])
        token = token_for(server, scratch.tenant["tenantId"], [role])
        response = client.request(method, "/v1.0/" + path.format(**ids), json=body,
                                  headers={"Authorization": f"Bearer {token}"})
        if role in needs:
            assert response.status_code == status, describe(response)
            check_request_ids(response)
        else:
            check_graph_error(response, 403, "Authorization_RequestDenied")


# -- (d) another tenant ------------------------------------------------------------------------

class TestAnotherTenant:
    """A second tenant's admin gets 404 for every id of the first tenant, and changes nothing."""

    @pytest.fixture(scope="class")
    def before(self, server, world) -> dict[str, Any]:
        return snapshot(server, world)

    @pytest.mark.parametrize("route", ID_ROUTES, ids=str)
    def test_first_tenants_ids_are_404(self, client, world, other_tenant, before, route):
        cid = str(uuid.uuid4())
        response = call(client, route, world.ids(route.root), other_tenant["accessToken"], client_request_id=cid)
        check_graph_error(response, 404, client_request_id=cid)

    @pytest.fixture(scope="class")
    def own_sp(self, server, other_tenant) -> str:
        with admin_client(server, other_tenant) as http:
            own = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                            json={"displayName": "Fabrikam SCIM"})
        assert own.status_code == 201, own.text
        return own.json()["servicePrincipal"]["id"]

    @pytest.mark.parametrize("tail", [
        ("GET", "jobs/{job}"), ("DELETE", "jobs/{job}"), ("POST", "jobs/{job}/start"),
        ("PATCH", "jobs/{job}"), ("GET", "jobs/{job}/schema"), ("PUT", "jobs/{job}/schema"),
        ("DELETE", "jobs/{job}/schema"), ("GET", "jobs/{job}/schema/directories/{dir_job}"),
        ("POST", "jobs/{job}/schema/directories/{dir_job}/discover"),
    ], ids=" ".join)
    def test_first_tenants_job_under_own_service_principal_is_404(self, server, world, other_tenant, own_sp,
                                                                  before, tail):
        """The other tenant names the first tenant's job id under a service principal it owns."""
        method, path = tail
        body = {} if method in ("PUT", "PATCH") else None
        url = f"/v1.0/servicePrincipals/{own_sp}/synchronization/" + path.format(**world.ids("servicePrincipals"))
        with admin_client(server, other_tenant) as http:
            response = http.request(method, url, **({"json": body} if body is not None else {}))
        check_graph_error(response, 404)

    def test_lists_do_not_show_the_first_tenants_objects(self, server, world, other_tenant, before):
        with admin_client(server, other_tenant) as http:
            for path, mine in (("/v1.0/applications", world.app["id"]), ("/v1.0/servicePrincipals", world.sp["id"])):
                response = http.get(path)
                check_success(response)
                assert mine not in [item["id"] for item in response.json()["value"]]

    def test_service_principal_for_first_tenants_app_id_is_refused(self, server, world, other_tenant, before):
        with admin_client(server, other_tenant) as http:
            response = http.post("/v1.0/servicePrincipals", json={"appId": world.app["appId"]})
        check_graph_error(response, 400)

    def test_first_tenant_is_unchanged(self, server, world, before):
        """Runs after the other tests of this class: nothing the other tenant did reached the world."""
        assert snapshot(server, world) == before


def test_client_request_id_is_echoed_on_success(client, world, tokens):
    cid = str(uuid.uuid4())
    response = client.get(f"/v1.0/servicePrincipals/{world.sp['id']}/synchronization/jobs",
                          headers={"Authorization": f"Bearer {tokens(ALL_ROLES)}", "client-request-id": cid})
    check_success(response)
    assert response.headers["client-request-id"] == cid
    other = client.get(f"/v1.0/servicePrincipals/{world.sp['id']}/synchronization/jobs",
                       headers={"Authorization": f"Bearer {tokens(ALL_ROLES)}"})
    assert check_request_ids(other) != response.headers["request-id"], "every response gets its own request-id"
