"""The API and the provisioning engine in separate processes: ``graphsync serve --no-engine``
answers the API, ``graphsync worker`` processes beside it (two here, sharing the work through job
leases) apply bulkUpload records and run outbound cycles — HR records reach a SCIM app
(scim2-server). On a SQLite file and on PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from graphsync.testing import free_port
from tests.conftest import TEST_SECRET_KEY, throwaway_postgres
from tests.e2e.test_hr_to_scim import API_APP, hr_to_scim, scim_app_job, upload, worker
from tests.waiting import eventually

GRAPHSYNC = str(Path(sys.executable).with_name("graphsync"))


class Process:
    """A graphsync command in its own process; its output goes to a file (read by the test)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen([GRAPHSYNC, *args], env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        """A worker that has started its scheduler (and handles SIGTERM)."""
        if self.process.poll() is not None:
            raise AssertionError(f"graphsync {self.process.args[1]} exited:\n{self.output()}")
        return "graphsync worker (pid" in self.output()

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._out.close()
        return self.process.returncode


@dataclass
class Split:
    base: str
    server: Process
    workers: list[Process]
    env: dict[str, str]
    logs: Path


@pytest.fixture(params=["sqlite", "postgresql"])
def split(request, tmp_path):
    """An API-only server and two workers on one database."""
    env = dict(os.environ, GRAPHSYNC_DATA_DIR=str(tmp_path / "var"), GRAPHSYNC_SECRET_KEY=TEST_SECRET_KEY,
               GRAPHSYNC_ENGINE_POLL_SECONDS="0.2", GRAPHSYNC_LOG_LEVEL="warning")
    env.pop("GRAPHSYNC_DATABASE_URL", None)
    env.pop("GRAPHSYNC_ENGINE", None)
    with throwaway_postgres("graphsync_workers") if request.param == "postgresql" else _nothing() as url:
        if url:
            env["GRAPHSYNC_DATABASE_URL"] = url
        port = free_port()
        server = Process(["serve", "--no-engine", "--emulator", "--port", str(port)], env, tmp_path / "serve.log")
        workers: list[Process] = []
        try:
            base = f"http://127.0.0.1:{port}"
            eventually(lambda: _answers(base, server), timeout=60)
            # the server has migrated the database: the workers start beside it
            workers = [Process(["worker"], env, tmp_path / f"worker{i}.log") for i in range(2)]
            for process in workers:
                eventually(lambda: process.running(), timeout=60)
            yield Split(base, server, workers, env, tmp_path)
        finally:
            for process in workers:
                process.stop()
            server.stop()


class _nothing:
    def __enter__(self):
        return ""

    def __exit__(self, *exc):
        return False


def _answers(base: str, server: Process) -> bool:
    if server.process.poll() is not None:
        raise AssertionError(f"graphsync serve exited:\n{server.output()}")
    try:
        return httpx.get(f"{base}/v1.0/$metadata", timeout=2).status_code < 500  # any answer: it is up
    except httpx.HTTPError:
        return False


def test_workers_beside_an_api_only_server_provision_inbound_and_outbound(split, scim_server):
    base, server, workers = split.base, split.server, split.workers
    assert "provisioning engine: off" in server.output()
    tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "workers"}).json()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        tag = tenant["tenantId"][:8]
        with scim_app_job(http, tag, scim_server) as out_job:
            # HR records → the directory (inbound, in a worker) → the SCIM app (outbound, in a worker)
            hr_to_scim(http, tag, scim_server, out_job)
        # each staged record was applied once, whichever worker took the job's batches
        creates = http.get("/v1.0/auditLogs/provisioning", params={
            "$filter": "provisioningAction eq 'create'", "$top": 500}).json()["value"]
        created_in_directory = [e["sourceIdentity"]["id"] for e in creates if e["jobId"] != out_job]
        assert len(created_in_directory) == len(set(created_in_directory)) == 3
        users = http.get("/v1.0/users", params={"$top": 100}).json()["value"]
        assert len(users) == 3
    for process in workers:  # SIGTERM: a clean stop
        assert process.stop() == 0, process.output()
        assert "graphsync worker: stopped" in process.output()


def test_records_wait_for_a_worker_when_the_server_runs_no_engine(split):
    base = split.base
    for process in split.workers:
        assert process.stop() == 0, process.output()
    tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "later"}).json()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        hr = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate", json={"displayName": "HR"}).json()
        sync = f"/v1.0/servicePrincipals/{hr['servicePrincipal']['id']}/synchronization"
        job = http.post(f"{sync}/jobs", json={"templateId": "API2AAD"}).json()["id"]
        assert http.post(f"{sync}/jobs/{job}/start").status_code == 204
        upload(http, f"{sync}/jobs/{job}/bulkUpload",
               worker("W1", "w1@contoso.test", "Wanda Worker", "Clerk", "Retail"))
        # with no worker running the record stays staged: the job has done nothing yet
        status = http.get(f"{sync}/jobs/{job}").json()["status"]
        assert status["lastExecution"] is None or status["lastExecution"].get("activityIdentifier") is None
        assert http.get("/v1.0/users/$count").text == "0"
        # a worker started now applies it
        late = Process(["worker"], split.env, split.logs / "late.log")
        try:
            eventually(late.running, timeout=60)
            eventually(lambda: http.get("/v1.0/users/$count").text == "1")
            eventually(lambda: (http.get(f"{sync}/jobs/{job}").json()["status"]["lastExecution"] or {})
                       .get("countExported") == 1)
        finally:
            assert late.stop() == 0, late.output()



@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_start_and_uploads_wake_a_worker_that_never_polls(tmp_path, scim_server, store):
    """A worker set to poll once an hour still runs a job at once after `start` and applies
    records after a `bulkUpload`: on PostgreSQL it hears of them by NOTIFY (procrastinate tasks),
    on SQLite by the doorbell beside the database file. The job's next cycles come at its
    interval all the same (tasks deferred to their time; on SQLite the scheduler sleeps no
    longer than to the soonest due job)."""
    env = dict(os.environ, GRAPHSYNC_DATA_DIR=str(tmp_path / "var"), GRAPHSYNC_SECRET_KEY=TEST_SECRET_KEY,
               GRAPHSYNC_ENGINE_POLL_SECONDS="3600", GRAPHSYNC_LOG_LEVEL="warning")
    for name in ("GRAPHSYNC_ENGINE", "GRAPHSYNC_ENGINE_EXECUTOR", "GRAPHSYNC_DATABASE_URL"):
        env.pop(name, None)
    with throwaway_postgres("graphsync_wake") if store == "postgresql" else _nothing() as url:
        if url:
            env["GRAPHSYNC_DATABASE_URL"] = url
        port = free_port()
        server = Process(["serve", "--no-engine", "--emulator", "--port", str(port)], env, tmp_path / "serve.log")
        engine = None
        try:
            base = f"http://127.0.0.1:{port}"
            eventually(lambda: _answers(base, server), timeout=60)
            engine = Process(["worker"], env, tmp_path / "worker.log")
            eventually(engine.running, timeout=60)
            tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "wake"}).json()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                              timeout=30) as http:
                hr = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate", json={"displayName": "HR"}).json()
                hr_job = f"/v1.0/servicePrincipals/{hr['servicePrincipal']['id']}/synchronization/jobs"
                hr_job += "/" + http.post(hr_job, json={"templateId": "API2AAD"}).json()["id"]
                assert http.post(f"{hr_job}/start").status_code == 204
                upload(http, f"{hr_job}/bulkUpload", worker("W1", "wendy@contoso.test", "Wendy Wake", "Clerk", "Retail"))
                eventually(lambda: http.get("/v1.0/users/$count").text == "1")  # applied by the worker
                tag = tenant["tenantId"][:8]
                with scim_app_job(http, tag, scim_server) as job_id:  # started, its first cycle seen
                    assert scim_server.find("Users", "userName", "wendy@contoso.test") is not None
                    sp = http.get("/v1.0/servicePrincipals", params={
                        "$filter": f"displayName eq 'SCIM app {tag}'"}).json()["value"][0]["id"]
                    job_url = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job_id}"
                    seen = {http.get(job_url).json()["status"]["lastExecution"]["activityIdentifier"]}
                    # and the next cycles come at the job's interval (PT1S)
                    for _ in range(2):
                        seen.add(eventually(lambda: (lambda a: a if a not in seen else None)(
                            (http.get(job_url).json()["status"]["lastExecution"] or {}).get("activityIdentifier"))))
                    assert len(seen) == 3
        finally:
            if engine is not None:
                assert engine.stop() == 0, engine.output()
            server.stop()
