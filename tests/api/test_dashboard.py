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


def test_the_dashboard_ships_no_data_and_every_api_call_needs_a_token(anonymous, http, tenant, scim_app):
    for url, response in crawl(anonymous).items():
        assert tenant["tenantId"].encode() not in response.content, url
        assert not re.search(rb"eyJ[\w-]{8,}\.[\w-]{8,}\.", response.content), url  # no token baked in
    sp = scim_app["servicePrincipal"]["id"]
    job = http.post(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs", json={"templateId": "scim"}).json()["id"]
    paths = api_paths()
    assert {"servicePrincipals", "jobs", "job", "start", "pause", "restart", "provisionOnDemand", "schema",
            "secrets", "logs", "token"} <= set(paths)
    writes = {"start", "pause", "restart", "provisionOnDemand"}
    for name, template in paths.items():
        url = template.replace("{sp}", sp).replace("{job}", job).replace("{tenant}", tenant["tenantId"])
        if name == "token":  # the token endpoint is the one call without a bearer token
            response = anonymous.post(url, data={"grant_type": "client_credentials", "client_id": tenant["clientId"],
                                                 "client_secret": "wrong", "scope": "https://graph.microsoft.com/.default"})
            assert response.status_code == 401 and response.json()["error"] == "invalid_client"
            continue
        method = "POST" if name in writes else "GET"
        check_graph_error(anonymous.request(method, url), 401, "InvalidAuthenticationToken")
        check_graph_error(anonymous.request(method, url, headers={"Authorization": "Bearer not-a-token"}), 401)
        if method == "GET":
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
