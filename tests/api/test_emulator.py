"""graphsync as an emulator in someone else's test suite: in-memory store, a tenant per test."""
from __future__ import annotations

import httpx

from graphsync.testing import EmulatorServer


def test_emulator_server_gives_isolated_tenants():
    with EmulatorServer() as server:
        assert server.runtime.settings.in_memory
        first, second = server.new_tenant("a"), server.new_tenant("b")
        headers_a = {"Authorization": f"Bearer {first['accessToken']}"}
        headers_b = {"Authorization": f"Bearer {second['accessToken']}"}
        created = httpx.post(f"{server.url}/v1.0/applications", json={"displayName": "only in A"}, headers=headers_a)
        assert created.status_code == 201
        assert [a["displayName"] for a in httpx.get(f"{server.url}/v1.0/applications", headers=headers_a)
                .json()["value"]] == ["only in A"]
        assert httpx.get(f"{server.url}/v1.0/applications", headers=headers_b).json()["value"] == []
        other = httpx.get(f"{server.url}/v1.0/applications/{created.json()['id']}", headers=headers_b)
        assert other.status_code == 404
        # the HTTP tenant factory is on in emulator mode
        assert httpx.post(f"{server.url}/graphsync/tenants").status_code == 201


def test_tenant_factory_is_off_unless_emulator_mode(tmp_path):
    from graphsync.config import Settings
    from graphsync.testing import free_port
    settings = Settings(database_url="memory", port=free_port(), data_dir=tmp_path)
    with EmulatorServer(settings) as server:
        response = httpx.post(f"{server.url}/graphsync/tenants")
        assert response.status_code == 404 and "GRAPHSYNC_EMULATOR" in response.json()["error"]["message"]
