"""The web dashboard at /dashboard, over HTTP against the real server: the page and every file it
loads (types, security headers, caching), refusals (unknown files, traversal), and its contract
with the API — every API path it calls exists and needs a token, and the $filter texts, restart
flags and token request it builds are ones the API accepts. No browser and no Node needed (one
optional check runs the helpers' examples when a `node` binary happens to be there)."""
from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from graphsync.models import parse_duration
from tests.api.graph_asserts import check_graph_error
from tests.conftest import token_for

DASHBOARD = Path(__file__).resolve().parents[2] / "src" / "graphsync" / "dashboard"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
IMPORT_RE = re.compile(r"""(?:^|\n)\s*(?:import|export)\s[^'";]*?\sfrom\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)""")


@pytest.fixture
def anonymous(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


class References(HTMLParser):
    """src/href of a page, and whether it has inline script or style."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
            if name == "style":
                self.inline.append(f"<{tag} style>")
        if tag == "script":
            if "src" not in attrs:
                self.inline.append("<script> without src")
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        for name in ("src", "href"):
            value = attrs.get(name)
            if value and not value.startswith("#"):
                self.urls.append(value)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append("inline script text")


def crawl(client: httpx.Client) -> dict[str, httpx.Response]:
    """Every URL the dashboard loads: the page, what it references, and the JS import graph."""
    page = client.get("/dashboard")
    assert page.status_code == 200, page.text
    parser = References()
    parser.feed(page.text)
    assert not parser.inline, f"inline script/style is refused by the CSP: {parser.inline}"
    seen: dict[str, httpx.Response] = {"/dashboard": page}
    todo = [urljoin("/dashboard", url) for url in parser.urls]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        assert not urlsplit(url).netloc, f"the dashboard loads {url} from another origin"
        response = client.get(url)
        seen[url] = response
        if url.endswith(".js") and response.status_code == 200:
            for match in IMPORT_RE.finditer(response.text):
                target = match.group(1) or match.group(2)
                assert target.startswith(("./", "../")), f"{url} imports {target}: only relative modules"
                todo.append(urljoin(url, target))
    return seen


def js(name: str) -> str:
    return (DASHBOARD / "js" / name).read_text(encoding="utf-8")


# -- the page and its files -----------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/dashboard", "/dashboard/", "/dashboard/index.html"])
def test_page_is_served_with_security_headers_and_no_auth(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = {part.split()[0]: part.split()[1:] for part in response.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache" and response.headers["etag"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    assert '<script type="module" src="/dashboard/js/main.js">' in response.text


def test_root_redirects_to_the_dashboard(anonymous):
    response = anonymous.get("/")
    assert response.status_code == 302 and response.headers["location"] == "/dashboard"
    assert anonymous.get("/", follow_redirects=True).headers["content-type"].startswith("text/html")


def test_every_file_the_dashboard_loads_is_served_with_its_type(anonymous):
    served = crawl(anonymous)
    assert {"/dashboard/js/main.js", "/dashboard/css/dashboard.css", "/dashboard/js/format.js",
            "/dashboard/js/api.js", "/dashboard/js/logs.js"} <= set(served)
    for url, response in served.items():
        assert response.status_code == 200, f"{url} -> {response.status_code}"
        suffix = Path(urlsplit(url).path).suffix or ".html"
        assert response.headers["content-type"].split(";")[0] == TYPES[suffix], url
        assert response.headers["x-content-type-options"] == "nosniff", url
        assert response.headers["content-security-policy"], url
    # Nothing shipped is unreachable (a file nobody loads is a file nobody tests).
    shipped = {f"/dashboard/{p.relative_to(DASHBOARD).as_posix()}" for p in DASHBOARD.rglob("*") if p.is_file()}
    assert shipped - {"/dashboard/index.html"} <= set(served), shipped - set(served)


def test_revalidation_answers_304(anonymous):
    first = anonymous.get("/dashboard/js/main.js")
    again = anonymous.get("/dashboard/js/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    head = anonymous.head("/dashboard/css/dashboard.css")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(anonymous.get("/dashboard/css/dashboard.css").content)


@pytest.mark.parametrize("url", ["/dashboard/nope.js", "/dashboard/js/", "/dashboard/js", "/dashboard/js/main.js.map",
                                 "/dashboard/css/dashboard.css/x", "/dashboard/__init__.py"])
def test_unknown_files_are_404_not_500(anonymous, url):
    check_graph_error(anonymous.get(url), 404)


def raw_get(server, raw_path: str) -> tuple[int, bytes]:
    """A request with the path exactly as written (HTTP clients normalise dot segments)."""
    host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"GET {raw_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("raw_path", [
    "/dashboard/../pyproject.toml",
    "/dashboard/../../pyproject.toml",
    "/dashboard/%2e%2e/%2e%2e/pyproject.toml",
    "/dashboard/..%2f..%2fapi%2froutes%2fdashboard.py",
    "/dashboard/js/..%2f..%2fapi/routes/dashboard.py",
    "/dashboard/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
    "/dashboard/..%5c..%5capi%5capp.py",
    "/dashboard//etc/passwd",
    "/dashboard/%2fetc%2fpasswd",
    "/dashboard/js/../../templates/scim.json",
    "/dashboard/%252e%252e/api/app.py",
])
def test_path_traversal_is_refused(server, raw_path):
    status, body = raw_get(server, raw_path)
    assert status in (400, 404), (raw_path, status, body[:200])
    for secret in (b"[build-system]", b"def ", b"root:", b"synchronizationRules"):
        assert secret not in body, raw_path


# -- the dashboard and the API ------------------------------------------------------------------

def api_paths() -> dict[str, str]:
    block = js("api.js").split("export const API_PATHS = {", 1)[1].split("};", 1)[0]
    return dict(re.findall(r"(\w+):\s*'([^']+)'", block))


def api_writes() -> dict[str, list[str]]:
    block = js("api.js").split("export const API_WRITES = {", 1)[1].split("};", 1)[0]
    return {name: re.findall(r"'(\w+)'", methods) for name, methods in re.findall(r"(\w+):\s*\[([^\]]*)\]", block)}


POST_ONLY = {"start", "pause", "restart", "provisionOnDemand", "validateCredentials", "parseExpression"}


def test_the_dashboard_ships_no_data_and_every_api_call_needs_a_token(anonymous, http, tenant, scim_app):
    for url, response in crawl(anonymous).items():
        assert tenant["tenantId"].encode() not in response.content, url
        assert not re.search(rb"eyJ[\w-]{8,}\.[\w-]{8,}\.", response.content), url  # no token baked in
    sp = scim_app["servicePrincipal"]["id"]
    job = http.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).json()["id"]
    user = http.post("/v1.0/users", json={"accountEnabled": True, "displayName": "Dana Dashboard", "mailNickname": "dana",
                                          "userPrincipalName": "dana@contoso.test",
                                          "passwordProfile": {"password": "Passw0rd!Passw0rd!"}}).json()["id"]
    paths = api_paths()
    assert {"servicePrincipals", "jobs", "job", "start", "pause", "restart", "provisionOnDemand", "schema",
            "secrets", "logs", "token", "validateCredentials", "parseExpression", "filterOperators", "users",
            "groups"} <= set(paths)
    writes = api_writes()
    assert set(writes) <= set(paths) and POST_ONLY <= set(writes)
    for name, template in paths.items():
        url = (template.replace("{sp}", sp).replace("{job}", job).replace("{tenant}", tenant["tenantId"])
               .replace("{user}", user))
        if name == "token":  # the token endpoint is the one call without a bearer token
            response = anonymous.post(url, data={"grant_type": "client_credentials", "client_id": tenant["clientId"],
                                                 "client_secret": "wrong", "scope": "https://graph.microsoft.com/.default"})
            assert response.status_code == 401 and response.json()["error"] == "invalid_client"
            continue
        methods = writes.get(name, []) + ([] if name in POST_ONLY else ["GET"])
        for method in methods:
            check_graph_error(anonymous.request(method, url, json={}), 401, "InvalidAuthenticationToken")
            check_graph_error(anonymous.request(method, url, json={}, headers={"Authorization": "Bearer not-a-token"}), 401)
        if "GET" in methods:
            response = http.get(url)
            assert response.status_code == 200, (name, response.text)


def test_the_token_request_the_sign_in_sends_works(anonymous, tenant):
    source = js("api.js")
    for field in ("grant_type: 'client_credentials'", "scope: 'https://graph.microsoft.com/.default'",
                  "'Content-Type': 'application/x-www-form-urlencoded'"):
        assert field in source
    response = anonymous.post(f"/{tenant['tenantId']}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": tenant["clientId"], "client_secret": tenant["clientSecret"],
        "scope": "https://graph.microsoft.com/.default"})
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert anonymous.get("/v1.0/servicePrincipals", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_403_names_the_missing_permission(server, tenant):
    """The dashboard shows Graph's error message for a 403; it must say what is missing."""
    token = token_for(server, tenant["tenantId"], ["Synchronization.Read.All"])
    response = httpx.get(f"{server.url}/v1.0/auditLogs/provisioning", headers={"Authorization": f"Bearer {token}"})
    error = check_graph_error(response, 403)
    assert "AuditLog.Read.All" in error["message"]


def examples(source: str, function: str) -> list[tuple[str, str]]:
    return re.findall(rf"^\s*\* @example ({function}\(.*\)) => (.*)$", source, re.M)


def test_log_filters_the_dashboard_builds_are_accepted_and_filter(http):
    source = js("format.js")
    found = examples(source, "logFilter")
    assert len(found) >= 4
    for call, expected in found:
        text = json.loads(expected)
        response = http.get("/v1.0/auditLogs/provisioning", params={"$filter": text, "$top": "5"} if text else {})
        assert response.status_code == 200, (call, response.text)
    statuses = re.search(r"LOG_STATUSES = \[([^\]]*)\]", source).group(1)
    actions = re.search(r"LOG_ACTIONS = \[([^\]]*)\]", source).group(1)
    for value in re.findall(r"'(\w+)'", statuses):
        assert http.get("/v1.0/auditLogs/provisioning",
                        params={"$filter": f"provisioningStatusInfo/status eq '{value}'"}).status_code == 200
    for value in re.findall(r"'(\w+)'", actions):
        assert http.get("/v1.0/auditLogs/provisioning",
                        params={"$filter": f"provisioningAction eq '{value}'"}).status_code == 200


def test_restart_flags_offered_are_the_ones_the_api_takes(http, scim_app):
    block = js("format.js").split("export const RESET_SCOPES = [", 1)[1].split("];", 1)[0]
    flags = re.findall(r"\['(\w+)',", block)
    assert set(flags) == {"Watermark", "Escrows", "QuarantineState", "ConnectorDataStore", "Full", "ForceDeletes"}
    sp = scim_app["servicePrincipal"]["id"]
    job = http.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).json()["id"]
    restart = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/restart"
    pause = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/pause"
    # restartBody(): {} for no flag, else {criteria: {resetScope: "A, B"}}
    for body in ({}, {"criteria": {"resetScope": ", ".join(flags)}}, {"criteria": {"resetScope": flags[0]}}):
        assert http.post(restart, json=body).status_code == 204, body
        assert http.post(pause).status_code == 204


def test_scripts_never_write_html_and_keep_the_token_in_session_storage():
    for path in (DASHBOARD / "js").glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                       "localStorage", "document.cookie"):
            assert banned not in source, f"{path.name} uses {banned}"
    assert "sessionStorage.setItem(TOKEN_KEY" in js("api.js")


@pytest.mark.skipif(shutil.which("node") is None, reason="optional: runs the helpers' @example lines with node")
def test_format_examples_hold(tmp_path):
    source = js("format.js")
    cases = re.findall(r"^\s*\* @example (.*) => (.*)$", source, re.M)
    assert len(cases) >= 20
    (tmp_path / "format.mjs").write_text(source, encoding="utf-8")
    names = ", ".join(sorted(set(re.findall(r"^export function (\w+)", source, re.M))))
    checks = "\n".join(
        f"{{ const got = {call}; const want = {expected};"
        f" if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({json.dumps(call)} + ' => ' + JSON.stringify(got)); }}"
        for call, expected in cases)
    (tmp_path / "check.mjs").write_text(
        "import * as f from './format.mjs';\n"
        f"const {{ {names} }} = f;\n"
        "const failures = [];\n" + checks + "\nif (failures.length) { console.log(failures.join('\\n')); process.exit(1); }\n",
        encoding="utf-8")
    result = subprocess.run(["node", str(tmp_path / "check.mjs")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- what the job page's forms and the logs page send ------------------------------------------

def example_values(function: str) -> list[str]:
    """The expected values (JSON) of format.js's @example lines of ``function``."""
    return [json.loads(expected) for _, expected in examples(js("format.js"), function)]


def test_directory_searches_the_dashboard_builds_are_accepted(http):
    """peopleFilter/groupsFilter (provision on demand, the logs' person filter, the expression
    tester) are $filters the directory takes, and they find people by name, not by GUID."""
    alice = http.post("/v1.0/users", json={
        "accountEnabled": True, "displayName": "Alice Adams", "surname": "Adams", "mailNickname": "alice",
        "userPrincipalName": "alice.adams@contoso.test", "mail": "alice.adams@contoso.test",
        "passwordProfile": {"password": "Passw0rd!Passw0rd!"}}).json()
    for text in example_values("peopleFilter"):
        assert http.get("/v1.0/users", params={"$filter": text, "$top": "8"}).status_code == 200, text
    for text in example_values("groupsFilter"):
        assert http.get("/v1.0/groups", params={"$filter": text, "$top": "8"}).status_code == 200, text
    # what peopleFilter("ada") and peopleFilter("alice.a") build, and the id form
    for value in ("ada", "alice.a", "Alice A"):
        text = " or ".join(f"startswith({name},'{value}')" for name in ("displayName", "userPrincipalName", "mail", "surname"))
        found = http.get("/v1.0/users", params={"$filter": text, "$select": "id,displayName,userPrincipalName,mail"}).json()
        assert [u["id"] for u in found["value"]] == [alice["id"]], value
    assert http.get("/v1.0/users", params={"$filter": f"id eq '{alice['id']}'"}).json()["value"][0]["id"] == alice["id"]


def test_the_logs_page_queries_are_accepted(http, scim_app):
    """Totals ($count), both orders ($orderby), the application and person filters."""
    sp = scim_app["servicePrincipal"]["id"]
    for order in ("asc", "desc"):
        response = http.get("/v1.0/auditLogs/provisioning", params={
            "$top": "50", "$count": "true", "$orderby": f"activityDateTime {order}",
            "$filter": f"servicePrincipal/id eq '{sp}' and sourceIdentity/id eq 'x' and provisioningStatusInfo/status eq 'failure'"})
        assert response.status_code == 200, response.text
        assert response.json()["@odata.count"] == 0
    # the CSV columns name what the entries carry
    columns = re.findall(r"\['(\w+)', \(e\) =>", js("format.js").split("export const LOG_COLUMNS = [", 1)[1])
    assert columns[:3] == ["activityDateTime", "status", "action"] and "reason" in columns


def test_the_configuration_forms_are_accepted(http, scim_app, scim_server):
    """The bodies config.js sends: secrets (connection, scope, notification and deletion
    threshold), the schedule (intervalIso's examples), job settings, and Test connection in both
    forms, against a real SCIM server."""
    sp = scim_app["servicePrincipal"]["id"]
    sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
    job = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
    test = f"{sync}/jobs/{job}/validateCredentials"
    credentials = [{"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": scim_server.token}]
    assert http.post(test, json={"credentials": credentials}).status_code == 204
    wrong = http.post(test, json={"credentials": [credentials[0], {"key": "SecretToken", "value": "wrong"}]})
    assert check_graph_error(wrong, 400)["code"] == "CredentialsValidationFailed"
    assert http.put(f"{sync}/secrets", json={"value": credentials}).status_code == 204
    assert http.post(test, json={"useSavedCredentials": True}).status_code == 204
    notify = {"Enabled": True, "Recipients": "ops@contoso.test", "DeleteThresholdEnabled": True, "DeleteThresholdValue": 25}
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "SyncNotificationSettings", "value": json.dumps(notify)}, {"key": "SyncAll", "value": "true"}]}).status_code == 204
    secrets = {p["key"]: p["value"] for p in http.get(f"{sync}/secrets").json()["value"]}
    assert json.loads(secrets["SyncNotificationSettings"]) == notify and secrets["SyncAll"] == "true"
    assert secrets["SecretToken"] == "*" and secrets["BaseAddress"] == scim_server.url  # what the form shows
    for interval in example_values("intervalIso"):
        assert http.patch(f"{sync}/jobs/{job}", json={"schedule": {"interval": interval}}).status_code == 204, interval
        stored = http.get(f"{sync}/jobs/{job}").json()["schedule"]["interval"]
        assert parse_duration(stored) == parse_duration(interval), (interval, stored)
    settings = [{"name": "QuarantineTooManyDeletesThreshold", "value": "40"}]
    assert http.patch(f"{sync}/jobs/{job}", json={"synchronizationJobSettings": settings}).status_code == 204
    assert http.get(f"{sync}/jobs/{job}").json()["synchronizationJobSettings"] == settings


def test_the_mapping_editor_round_trips_a_schema(http, scim_app):
    """Edit as mappings.js does: an expression parsed by parseExpression becomes the source as
    it is; a scoping filter as the clause editor writes it; the tester's testInputObject."""
    sp = scim_app["servicePrincipal"]["id"]
    sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
    job = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
    schema_url = f"{sync}/jobs/{job}/schema"
    operators = http.get(f"{schema_url}/filterOperators").json()["value"]
    assert {"EQUALS", "IS TRUE"} <= {o["name"] for o in operators} and all(o["arity"] in ("Unary", "Binary") for o in operators)
    parse = f"{schema_url}/parseExpression"
    tested = http.post(parse, json={"expression": 'Join(" ", [givenName], [surname])', "testInputObject": {
        "properties": [{"key": "givenName", "value": "Alice"}, {"key": "surname", "value": "Adams"}]}}).json()
    assert tested["parsingSucceeded"] and tested["evaluationSucceeded"] and tested["evaluationResult"] == ["Alice Adams"]
    broken = http.post(parse, json={"expression": "Join(\" \", [givenName]"}).json()
    assert broken["parsingSucceeded"] is False and broken["error"]["message"]
    parsed = http.post(parse, json={"expression": 'Join(" ", [givenName], [surname])'}).json()["parsedExpression"]

    schema = http.get(schema_url).json()
    users = next(m for r in schema["synchronizationRules"] for m in r["objectMappings"] if m["sourceObjectName"] == "User")
    display = next(a for a in users["attributeMappings"] if a["targetAttributeName"] == "displayName")
    display["source"] = parsed
    users["attributeMappings"].append({"defaultValue": None, "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
                                       "flowType": "ObjectAddOnly", "matchingPriority": 0, "source": None,
                                       "targetAttributeName": "title", "defaultValue": "Staff"})
    users["scope"] = {"groups": [{"clauses": [
        {"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Sales", "Ops"]}},
        {"sourceOperandName": "accountEnabled", "operatorName": "IS TRUE"}]}]}
    users["flowTypes"] = "Add, Update"
    assert http.put(schema_url, json=schema).status_code == 204, http.put(schema_url, json=schema).text
    saved = http.get(schema_url).json()
    users = next(m for r in saved["synchronizationRules"] for m in r["objectMappings"] if m["sourceObjectName"] == "User")
    assert next(a for a in users["attributeMappings"] if a["targetAttributeName"] == "displayName")["source"]["expression"] \
        == 'Join(" ", [givenName], [surname])'
    assert users["scope"]["groups"][0]["clauses"][0]["targetOperand"]["values"] == ["Sales", "Ops"]
    # a bad target attribute is a 400 that names its place (the editor shows the message as is)
    users["attributeMappings"][0]["targetAttributeName"] = "noSuchAttribute"
    error = check_graph_error(http.put(schema_url, json=saved), 400)
    assert "attributeMappings[0].targetAttributeName" in error["message"]
