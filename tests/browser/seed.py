"""A tenant with something to look at, for the browser tests (and for a person: run
``.venv/bin/python -m tests.browser.seed`` to get a seeded server, its URL and a token).

* "Contoso SCIM": a started outbound job against an in-process SCIM target that refuses
  users whose userName starts with ``fail.`` (so the logs have failures), through one cycle;
* "Northwind HR": an API-driven inbound job that processed a few worker records (one bad);
* ``extra_apps`` more applications with one unstarted job each (paging and search)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from graphsync.testing import BackgroundServer, InMemoryScimTarget, free_port
from tests.waiting import eventually

SCIM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
API_APP_TEMPLATE = "557df4cf-766b-4086-85d9-55769b9c02cb"
TARGET_TOKEN = "seed-target-token"
PEOPLE = [("Alice", "Adams"), ("Bob", "Brown"), ("Carol", "Chen"), ("Fail", "Fred")]


def refuse_fail_users(method: str, kind: str, body) -> int | None:
    if method == "POST" and kind == "Users" and str((body or {}).get("userName", "")).startswith("fail."):
        return 400
    return None


def start_target() -> tuple[BackgroundServer, InMemoryScimTarget]:
    target = InMemoryScimTarget(fail=refuse_fail_users, token=TARGET_TOKEN)
    return BackgroundServer(target, free_port(), "seed SCIM target").start(), target


def instantiate(http: httpx.Client, template: str, name: str) -> str:
    response = http.post(f"/v1.0/applicationTemplates/{template}/instantiate", json={"displayName": name})
    assert response.status_code == 201, response.text
    return response.json()["servicePrincipal"]["id"]


def seed(http: httpx.Client, target_url: str, *, extra_apps: int = 0) -> dict:
    """Fill the tenant behind ``http``; returns the ids the tests need."""
    users = {}
    for given, surname in PEOPLE:
        response = http.post("/v1.0/users", json={
            "accountEnabled": True, "displayName": f"{given} {surname}", "givenName": given, "surname": surname,
            "userPrincipalName": f"{given.lower()}.{surname.lower()}@contoso.test",
            "mailNickname": f"{given.lower()}{surname.lower()}", "mail": f"{given.lower()}.{surname.lower()}@contoso.test",
            "passwordProfile": {"password": "Passw0rd!Passw0rd!"}})
        assert response.status_code == 201, response.text
        users[given.lower()] = response.json()

    sp = instantiate(http, SCIM_APP_TEMPLATE, "Contoso SCIM")
    sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
    job = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": target_url}, {"key": "SecretToken", "value": TARGET_TOKEN},
        {"key": "SyncAll", "value": "true"}]}).status_code == 204
    assert http.patch(f"{sync}/jobs/{job}", json={"schedule": {"interval": "PT1H"}}).status_code == 204
    assert http.post(f"{sync}/jobs/{job}/start").status_code == 204
    eventually(lambda: http.get(f"{sync}/jobs/{job}").json()["status"]["lastExecution"])

    hr = instantiate(http, API_APP_TEMPLATE, "Northwind HR")
    hr_sync = f"/v1.0/servicePrincipals/{hr}/synchronization"
    hr_job = http.post(f"{hr_sync}/jobs", json={"templateId": "API2AAD"}).json()["id"]
    assert http.post(f"{hr_sync}/jobs/{hr_job}/start").status_code == 204
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    records = [{"schemas": [core], "externalId": f"E{n}", "userName": f"worker{n}@contoso.test",
                "displayName": f"Worker {n}", "name": {"givenName": "Worker", "familyName": str(n)}, "active": True}
               for n in range(1, 4)]
    records.append({"schemas": [core], "externalId": "E4", "displayName": "No Login", "active": True})
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": r["externalId"], "data": r} for r in records]}
    response = http.post(f"{hr_sync}/jobs/{hr_job}/bulkUpload", content=json.dumps(body),
                         headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 202, response.text
    eventually(lambda: http.get(f"{hr_sync}/jobs/{hr_job}").json()["status"]["lastExecution"])

    def extra(n: int) -> None:
        owner = instantiate(http, SCIM_APP_TEMPLATE, f"Fabrikam app {n:03d}")
        assert http.post(f"/v1.0/servicePrincipals/{owner}/synchronization/jobs",
                         json={"templateId": "scim"}).status_code == 201

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(extra, range(1, extra_apps + 1)))
    return {"sp": sp, "job": job, "hrSp": hr, "hrJob": hr_job, "users": users}


def main() -> None:  # pragma: no cover - a person's tool
    import argparse

    from graphsync.config import Settings
    from graphsync.testing import EmulatorServer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--extra-apps", type=int, default=40)
    args = parser.parse_args()
    target, _ = start_target()
    server = EmulatorServer(Settings(database_url="memory", emulator=True, port=args.port,
                                     engine_poll_seconds=0.2)).start()
    tenant = server.new_tenant("seed")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        ids = seed(http, target.url, extra_apps=args.extra_apps)
    print(json.dumps({"url": f"{server.url}/dashboard", "token": tenant["accessToken"], "target": target.url,
                      **{k: v for k, v in ids.items() if k != "users"}}, indent=1), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
        target.stop()


if __name__ == "__main__":
    main()
