"""A large initial cycle shared by several workers (PostgreSQL, procrastinate tasks): its users are
cut into buckets that two worker processes run at once; the cycle's finish (references) runs
once they are all through, and the job records one cycle with every object in it."""
from __future__ import annotations

import uuid
from collections import Counter

import httpx

from graphsync.testing import free_port
from tests.conftest import ScimServer, throwaway_postgres
from tests.e2e.quirky_target import QuirkyTarget
from tests.e2e.test_metrics import base_env, scrape, start_serve, value
from tests.e2e.test_target_quirks import cycle_after, directory_users, outbound_job
from tests.e2e.test_workers import Process
from tests.waiting import eventually

USERS = 120
BUCKET = 15  # users per bucket: 8 buckets


def test_two_workers_share_one_initial_cycle(tmp_path):
    scim = ScimServer(unique_user_names=False)  # a second create of anyone would show
    target = QuirkyTarget(scim.url, latency=0.02).start()  # 20 ms a request: the buckets overlap
    with throwaway_postgres("graphsync_buckets") as url:
        env = base_env(tmp_path, GRAPHSYNC_DATABASE_URL=url, GRAPHSYNC_LOG_LEVEL="warning")
        server = start_serve(tmp_path, env, "--no-engine")
        ports = [free_port(), free_port()]
        workers = [Process(["worker", "--metrics-port", str(port)], env, tmp_path / f"worker{i}.log")
                   for i, port in enumerate(ports)]
        try:
            for process in workers:
                eventually(process.running, timeout=60)
            tag = uuid.uuid4().hex[:8]
            with server.client() as http:
                users = directory_users(http, tag, USERS)
                manager, report = users[0], users[-1]  # the last bucket's user reports to the first's
                assert http.put(f"/v1.0/users/{report['id']}/manager/$ref", json={
                    "@odata.id": f"https://graph.microsoft.com/v1.0/users/{manager['id']}"}).status_code == 204
                job_url = outbound_job(http, tag, target.url, scim.token, interval="PT1H",
                                       settings={"CycleBucketSize": str(BUCKET), "ScimConcurrency": "4"})
                execution = cycle_after(http, job_url, None)
                assert execution["error"] is None, execution
                assert (execution["countImported"], execution["countExported"]) == (USERS, USERS)
                progress = http.get(job_url).json()["status"]["progress"][0]
                assert progress["completedUnits"] == progress["totalUnits"] == USERS
                entries = http.get("/v1.0/auditLogs/provisioning", params={"$top": 999}).json()["value"]
                assert {e["cycleId"] for e in entries} == {execution["activityIdentifier"]}  # one cycle
            in_target = {u["userName"]: u for u in scim.resources("Users")}
            assert Counter(u["userName"] for u in scim.resources("Users")) == \
                Counter(u["userPrincipalName"] for u in users)  # each once
            manager_id = in_target[manager["userPrincipalName"]]["id"]
            enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            assert in_target[report["userPrincipalName"]][enterprise]["manager"]["value"] == manager_id
            created = [value(scrape(f"http://127.0.0.1:{port}/metrics"), "graphsync_objects_total",
                             direction="outbound", action="create", status="success") for port in ports]
            assert sum(created) == USERS and all(n > 0 for n in created), created  # both workers did some
        finally:
            for process in workers:
                process.stop()
            server.process.stop()
            target.stop()
            scim.stop()


def test_a_paused_bucketed_cycle_runs_on_when_started_again(tmp_path, scim_server):
    with throwaway_postgres("graphsync_buckets_pause") as url:
        env = base_env(tmp_path, GRAPHSYNC_DATABASE_URL=url, GRAPHSYNC_LOG_LEVEL="warning")
        server = start_serve(tmp_path, env)  # its own engine, tasks
        target = QuirkyTarget(scim_server.url, latency=0.05).start()
        try:
            tag = uuid.uuid4().hex[:8]
            with server.client() as http:
                users = directory_users(http, tag, 60)
                job_url = outbound_job(http, tag, target.url, scim_server.token, interval="PT1H",
                                       settings={"CycleBucketSize": "10", "ScimConcurrency": "2"})
                mine = lambda: [u for u in scim_server.resources("Users") if u["userName"].endswith(f"{tag}@contoso.test")]  # noqa: E731
                eventually(lambda: len(mine()) >= 10, timeout=60, interval=0.02)
                assert http.post(f"{job_url}/pause").status_code == 204
                paused_at = len(mine())
                assert paused_at < 60
                # the paused cycle shows how far its buckets got, out of all of its users
                progress = eventually(lambda: (lambda p: p if p and p[0]["completedUnits"] > 0 else None)(
                    http.get(job_url).json()["status"]["progress"]), timeout=20)[0]
                assert progress["totalUnits"] == 60 and progress["completedUnits"] <= 60, progress
                assert http.post(f"{job_url}/start").status_code == 204
                execution = cycle_after(http, job_url, None)
                assert execution["error"] is None, execution
                assert Counter(u["userName"] for u in mine()) == Counter(u["userPrincipalName"] for u in users)
                assert execution["countImported"] >= 60  # every user, whichever run of its bucket did it
        finally:
            target.stop()
            server.process.stop()
