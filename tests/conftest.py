"""Test fixtures: a real graphsync server (uvicorn on 127.0.0.1) per storage backend, a fresh
tenant per test, and the official msgraph-sdk pointed at the server by base URL only."""
from __future__ import annotations

import base64
import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import httpx
import psycopg
import pytest
from graphsync.config import Settings
from graphsync.testing import EmulatorServer, free_port

PG_ADMIN_URL = os.environ.get("GRAPHSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Every runtime that opens the session's PostgreSQL database must use the same master key, or it
# could not read the signing key and secrets the others stored.
TEST_SECRET_KEY = base64.b64encode(os.urandom(32)).decode()


@contextmanager
def throwaway_postgres(prefix: str = "graphsync_test") -> Iterator[str]:
    """A new database on the local PostgreSQL server, dropped afterwards (skips the test when the
    server is unreachable outside CI)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI and is unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (outside CI the PostgreSQL tests are skipped)")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server (dropped at the end)."""
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend_settings(request, tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"var-{request.param}")
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    port = free_port()
    return Settings(data_dir=data_dir, database_url=url, port=port, emulator=True, max_body_bytes=256 * 1024,
                    secret_key=TEST_SECRET_KEY,
                    engine_poll_seconds=0.2)


@pytest.fixture(scope="session")
def server(backend_settings) -> Iterator[EmulatorServer]:
    live = EmulatorServer(backend_settings).start()
    yield live
    live.stop()


@pytest.fixture
def tenant(server) -> dict:
    """A new, empty tenant with an all-permissions client and token (isolated from other tests)."""
    response = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "pytest"})
    response.raise_for_status()
    return response.json()


def bearer_client(server: EmulatorServer, token: str) -> httpx.Client:
    """Raw HTTP to the test server with ``token``."""
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.fixture
def http(server, tenant) -> Iterator[httpx.Client]:
    with bearer_client(server, tenant["accessToken"]) as client:
        yield client


def token_for(server: EmulatorServer, tenant_id: str, roles: list[str]) -> str:
    runtime = server.runtime
    return runtime.tokens.issue(tenant_id, "pytest", roles, runtime.clock.now())


def graph_client(base_url: str, token: str, beta: bool = False):
    """The official SDK, changed only in its base URL (and a static token)."""
    from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator
    from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
        BaseBearerTokenAuthenticationProvider)

    class StaticToken(AccessTokenProvider):
        async def get_authorization_token(self, uri, additional_authentication_context=None) -> str:
            return token

        def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
            return AllowedHostsValidator([])

    if beta:
        from msgraph_beta import GraphRequestAdapter, GraphServiceClient
    else:
        from msgraph import GraphRequestAdapter, GraphServiceClient
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken()))
    adapter.base_url = f"{base_url}/{'beta' if beta else 'v1.0'}"
    return GraphServiceClient(request_adapter=adapter)


@pytest.fixture
def graph(server, tenant):
    return graph_client(server.url, tenant["accessToken"])


@pytest.fixture
def graph_beta(server, tenant):
    return graph_client(server.url, tenant["accessToken"], beta=True)


SCIM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


@pytest.fixture
def scim_app(http) -> dict:
    """An instantiated custom SCIM application: {application, servicePrincipal}."""
    response = http.post(f"/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                         json={"displayName": "Contoso SCIM"})
    assert response.status_code == 201, response.text
    return response.json()


class ScimServer:
    """scim2-server (python-scim, PyPI) on 127.0.0.1 — a SCIM 2.0 service none of us wrote.

    Configured through its own options, it can also behave as other real services do:
    ``max_page_size`` caps its pages (its ServiceProviderConfig announces the cap), and
    ``unique_user_names=False`` lets it store two users with one userName (its User schema says
    ``uniqueness: none``), so a client that creates a user twice leaves a visible duplicate."""

    def __init__(self, token: str = "scim-test-token", *, max_page_size: int | None = None,
                 unique_user_names: bool = True):
        import json
        import subprocess
        import sys
        import tempfile
        import time as _time
        from importlib import resources
        self.token = token
        self.port = free_port()
        options = []
        self._files = tempfile.TemporaryDirectory(prefix="scim2-server-")
        packaged = resources.files("scim2_server") / "resources"
        if max_page_size is not None:
            config = json.loads((packaged / "default-service-provider-config.json").read_text())
            config["pagination"] = {"cursor": False, "index": True, "defaultPaginationMethod": "index",
                                    "defaultPageSize": max_page_size, "maxPageSize": max_page_size}
            options += ["--service-provider-config", self._write("config.json", config)]
        if not unique_user_names:
            schemas = json.loads((packaged / "default-schemas.json").read_text())
            for schema in schemas:
                for attribute in schema.get("attributes", []):
                    if attribute.get("name") == "userName":
                        attribute["uniqueness"] = "none"
            options += ["--schema", self._write("schemas.json", schemas)]
        self.process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "scim2-server"), "--hostname", "127.0.0.1",
             "--port", str(self.port), "--bearer-token", token, *options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = _time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/ServiceProviderConfig", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if _time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("scim2-server did not start")
            _time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def resources(self, kind: str) -> list[dict]:
        found, start = [], 1
        while True:
            body = self.client.get(f"/{kind}", params={"startIndex": start, "count": 100}).json()
            page = body.get("Resources") or []
            found += page
            start += len(page)
            if not page or start > body.get("totalResults", 0):
                return found

    def find(self, kind: str, attribute: str, value: str) -> dict | None:
        hits = self.client.get(f"/{kind}", params={"filter": f'{attribute} eq "{value}"'}).json().get("Resources")
        return hits[0] if hits else None

    def _write(self, name: str, document) -> str:
        import json
        path = os.path.join(self._files.name, name)
        with open(path, "w") as file:
            json.dump(document, file)
        return path

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)
        self._files.cleanup()


@pytest.fixture(scope="session")
def scim_server() -> Iterator[ScimServer]:
    server = ScimServer()
    yield server
    server.stop()
