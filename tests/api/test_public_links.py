"""Absolute links in answers (``@odata.nextLink``, ``@odata.context``, delta links, the bulkUpload
``Location``, the ``WWW-Authenticate`` challenge) never take a forged ``Host``: a client following
a nextLink would send its next request, and its bearer token, wherever the Host said."""
from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from graphsync.api.app import create_app
from graphsync.config import Settings
from tests.api.test_bulk_upload import Inbound, bulk, sample_record

EVIL = "attacker.example:8080"


def links_of(client: httpx.Client | TestClient, sync: str, host: str | None = None) -> list[str]:
    """Every absolute link the server builds, for requests sent with ``host`` as their Host."""
    headers = {"Host": host} if host else {}
    jobs = client.get(f"{sync}/jobs", params={"$top": "1"}, headers=headers)
    assert jobs.status_code == 200, jobs.text
    delta = client.get("/v1.0/users/delta", headers=headers)
    assert delta.status_code == 200, delta.text
    unauthenticated = client.get("/v1.0/applications", headers={**headers, "Authorization": ""})
    assert unauthenticated.status_code == 401
    return [jobs.json()["@odata.nextLink"], jobs.json()["@odata.context"], delta.json()["@odata.deltaLink"],
            unauthenticated.headers["www-authenticate"].split('authorization_uri="', 1)[1]]


def with_two_jobs(client: httpx.Client | TestClient) -> str:
    inbound = Inbound(client)
    assert client.post(f"{inbound.sync}/jobs", json={"templateId": "API2AAD"}).status_code == 201
    return inbound.sync


def test_a_forged_host_is_not_reflected_into_links(server, http):
    inbound = Inbound(http)
    assert http.post(f"{inbound.sync}/jobs", json={"templateId": "API2AAD"}).status_code == 201
    for link in links_of(http, inbound.sync, EVIL):
        assert link.startswith(server.url + "/"), link
    uploaded = http.post(inbound.url, json=bulk(sample_record("E1", "e1@contoso.com", "E One", "E", "Clerk", None)),
                         headers={"Content-Type": "application/scim+json", "Host": EVIL})
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.headers["location"].startswith(server.url + "/v1.0/auditLogs/provisioning?")


def test_the_servers_own_names_are_reflected(server, http):
    """Reached as localhost rather than 127.0.0.1, links keep the name the client used."""
    sync = with_two_jobs(http)
    port = server.settings.port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        for link in links_of(http, sync, host):
            assert link.startswith(f"http://{host}/"), link


@pytest.mark.parametrize("settings, host, base", [
    ({"public_url": "https://graph.contoso.test/"}, "testserver", "https://graph.contoso.test"),
    ({"public_url": "https://graph.contoso.test"}, "localhost:8080", "https://graph.contoso.test"),
    ({}, "testserver", "http://127.0.0.1:8080"),
    ({"trusted_hosts": "testserver, graph.internal:9000"}, "testserver", "http://testserver"),
    ({"trusted_hosts": "graph.internal:9000"}, "graph.internal:9000", "http://graph.internal:9000"),
    ({"trusted_hosts": "graph.internal:9000"}, "graph.internal:9001", "http://127.0.0.1:8080"),
], ids=["public-url", "public-url-over-localhost", "untrusted", "trusted-name", "trusted-port", "other-port"])
def test_links_use_the_public_url_or_a_trusted_host(tmp_path, settings, host, base):
    app = create_app(Settings(data_dir=tmp_path, database_url="memory", emulator=True, engine=False,
                              **settings))
    with TestClient(app) as client:
        tenant = client.post("/graphsync/tenants").json()
        client.headers["Authorization"] = f"Bearer {tenant['accessToken']}"
        sync = with_two_jobs(client)
        for link in links_of(client, sync, host):
            assert link.startswith(base + "/"), link
