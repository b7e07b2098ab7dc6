"""The engine when processes and connections fail under it (PostgreSQL unless said):

* a worker paused (SIGSTOP) in the middle of a cycle, past its lease, whose job another worker
  took over and finished, wakes up (SIGCONT) and writes nothing more — to a target that would
  keep a duplicate user if it got a second create;
* every connection of the database is terminated (pg_terminate_backend) while a cycle runs: the
  cycle carries on, or resumes within seconds, and the target ends up with each user once;
* (SQLite) a server stopped with SIGTERM mid-cycle releases the job, and the next one finishes it."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter

import httpx
import psycopg
import pytest

from graphsync.config import Settings
from graphsync.services import directory
from graphsync.testing import EmulatorServer, free_port
from tests.conftest import PG_ADMIN_URL, TEST_SECRET_KEY, ScimServer, throwaway_postgres
from tests.e2e.quirky_target import QuirkyTarget
from tests.e2e.test_target_quirks import cycle_after, directory_users, outbound_job
from tests.e2e.test_workers import Process, _answers
from tests.waiting import eventually

USERS = 120
TERMINATED_USERS = 1500
LEASE_SECONDS = 3


@pytest.fixture
def slow_lenient_target():
    """scim2-server keeping every create (no userName uniqueness), 30 ms away."""
    server = ScimServer(unique_user_names=False)
    proxy = QuirkyTarget(server.url, latency=0.03).start()
    yield server, proxy
    proxy.stop()
    server.stop()


def lease_holder_pid(database_url: str, job_id: str) -> int | None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute("SELECT holder FROM job_leases WHERE job_id = %s", (job_id,)).fetchone()
    return int(row[0].split(":")[-2]) if row else None  # host:pid:claim


def test_a_worker_paused_past_its_lease_sends_nothing_when_it_wakes(tmp_path, slow_lenient_target):
    scim, target = slow_lenient_target
    with throwaway_postgres("graphsync_pause") as url:
        env = dict(os.environ, GRAPHSYNC_DATA_DIR=str(tmp_path / "var"), GRAPHSYNC_SECRET_KEY=TEST_SECRET_KEY,
                   GRAPHSYNC_DATABASE_URL=url, GRAPHSYNC_ENGINE_POLL_SECONDS="0.2",
                   GRAPHSYNC_LEASE_SECONDS=str(LEASE_SECONDS), GRAPHSYNC_LOG_LEVEL="warning")
        env.pop("GRAPHSYNC_ENGINE", None)
        port = free_port()
        server = Process(["serve", "--no-engine", "--emulator", "--port", str(port)], env, tmp_path / "serve.log")
        workers: list[Process] = []
        paused = None
        try:
            base = f"http://127.0.0.1:{port}"
            eventually(lambda: _answers(base, server), timeout=60)
            workers = [Process(["worker"], env, tmp_path / f"worker{i}.log") for i in range(2)]
            for process in workers:
                eventually(process.running, timeout=60)
            tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "pause"}).json()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                              timeout=30) as http:
                tag = uuid.uuid4().hex[:8]
                users = directory_users(http, tag, USERS)
                job_url = outbound_job(http, tag, target.url, scim.token, settings={"ScimConcurrency": "2"})
                job_id = job_url.rsplit("/", 1)[1]
                # mid-cycle: some users are in the target, most are not
                eventually(lambda: len(scim.resources("Users")) >= 15, timeout=60, interval=0.01)
                pid = lease_holder_pid(url, job_id)
                paused = next(p for p in workers if p.process.pid == pid)
                os.kill(pid, signal.SIGSTOP)
                in_target_when_paused = len(scim.resources("Users"))
                assert in_target_when_paused < USERS
                # the other worker takes the job over once the lease expires, and finishes the cycle
                finished = cycle_after(http, job_url, None)
                assert finished["error"] is None, finished
                assert lease_holder_pid(url, job_id) != pid
                posts = target.requests["POST /Users"]
                os.kill(pid, signal.SIGCONT)
                eventually(lambda: "lease of job" in paused.output(), timeout=30)
                time.sleep(LEASE_SECONDS)  # room for anything the woken worker still had in hand
                assert target.requests["POST /Users"] == posts  # it sent no create after it woke
                names = Counter(u["userName"] for u in scim.resources("Users"))
                assert names == Counter(u["userPrincipalName"] for u in users)  # every user once
        finally:
            if paused is not None:
                os.kill(paused.process.pid, signal.SIGCONT)
            for process in workers:
                process.stop()
            server.stop()


def test_terminated_database_connections_do_not_stop_a_cycle(scim_server, caplog):
    scim = scim_server
    with throwaway_postgres("graphsync_terminate") as url:
        settings = Settings(database_url=url, emulator=True, port=free_port(), secret_key=TEST_SECRET_KEY,
                            engine_poll_seconds=0.2)
        with EmulatorServer(settings) as server:
            tenant = server.new_tenant()
            tag = uuid.uuid4().hex[:8]
            with server.runtime.unit(tenant["tenantId"]) as ctx:  # many pages: the cycle writes all along
                users = directory.create_users(ctx, [user_body(i, tag) for i in range(TERMINATED_USERS)])
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                              timeout=30) as http:
                job_url = outbound_job(http, tag, scim.url, scim.token, interval="PT40M")
                eventually(lambda: http.get(job_url).json()["status"]["progress"], timeout=60, interval=0.01)
                database = url.rsplit("/", 1)[1]
                terminated = 0
                deadline = time.monotonic() + 30
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                    # every connection the server has, again and again, until the engine met it
                    while not _met_a_dropped_connection(caplog) and time.monotonic() < deadline:
                        terminated += len(admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid()", (database,)).fetchall())
                        time.sleep(0.02)
                assert _met_a_dropped_connection(caplog), "the cycle never met a terminated connection"
                began = time.monotonic()
                finished = eventually(lambda: _completed(http, job_url), timeout=60)
                print(f"\ncycle complete {time.monotonic() - began:.1f} s after the last termination "
                      f"({terminated} connections terminated)")
                assert finished["error"] is None, finished
                names = Counter(u["userName"] for u in scim.resources("Users") if u["userName"].endswith(tag + "@contoso.test"))
                assert names == Counter(u["userPrincipalName"] for u in users)  # each once, all there
                # the engine's own connections were terminated too: it still hears of the next start
                assert http.post(f"{job_url}/restart", json={"criteria": {"resetScope": "Watermark"}}).status_code == 204
                again = eventually(lambda: (lambda e: e if e and e["activityIdentifier"] != finished[
                    "activityIdentifier"] else None)(_completed(http, job_url)), timeout=60)
                assert again["error"] is None and again["countImported"] == TERMINATED_USERS


def user_body(i: int, tag: str) -> dict:
    return {"accountEnabled": True, "displayName": f"User {i} {tag}", "givenName": f"Given{i}", "surname": tag,
            "userPrincipalName": f"user{i}.{tag}@contoso.test", "mailNickname": f"u{i}{tag}",
            "mail": f"user{i}.{tag}@contoso.test"}


def _met_a_dropped_connection(caplog) -> bool:
    return any("database error" in record.getMessage() or "could not be renewed" in record.getMessage()
               for record in caplog.records)


def _completed(http, job_url: str) -> dict | None:
    """The job's lastExecution once a cycle ended without error (answers during the outage aside)."""
    try:
        response = http.get(job_url)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    execution = response.json()["status"]["lastExecution"] or {}
    return execution if execution.get("activityIdentifier") and not execution.get("error") else None


def test_a_stopped_server_hands_its_cycle_on_at_once(tmp_path, slow_lenient_target):
    """SIGTERM to `graphsync serve` (its engine on, SQLite) in the middle of a cycle: the engine
    stops after its page in flight and releases the job's lease, so the server started next runs
    the rest of the cycle at once — not after the 60 s the lease would take to expire — and the
    target ends up with every user once."""
    scim, target = slow_lenient_target
    env = dict(os.environ, GRAPHSYNC_DATA_DIR=str(tmp_path / "var"), GRAPHSYNC_SECRET_KEY=TEST_SECRET_KEY,
               GRAPHSYNC_ENGINE_POLL_SECONDS="0.2", GRAPHSYNC_LEASE_SECONDS="60", GRAPHSYNC_LOG_LEVEL="warning")
    for name in ("GRAPHSYNC_ENGINE", "GRAPHSYNC_DATABASE_URL"):
        env.pop(name, None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    first = Process(["serve", "--emulator", "--port", str(port)], env, tmp_path / "first.log")
    second = None
    try:
        eventually(lambda: _answers(base, first), timeout=60)
        tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "handover"}).json()
        headers = {"Authorization": f"Bearer {tenant['accessToken']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            tag = uuid.uuid4().hex[:8]
            users = directory_users(http, tag, USERS)
            job_url = outbound_job(http, tag, target.url, scim.token, interval="PT1H",
                                   settings={"ScimConcurrency": "2"})
            eventually(lambda: len(scim.resources("Users")) >= 15, timeout=60, interval=0.01)
        assert first.stop() in (0, -signal.SIGTERM), first.output()  # uvicorn re-raises the signal it handled
        assert len(scim.resources("Users")) < USERS  # stopped part way
        second = Process(["serve", "--emulator", "--port", str(port)], env, tmp_path / "second.log")
        eventually(lambda: _answers(base, second), timeout=60)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            finished = eventually(lambda: (http.get(job_url).json()["status"]["lastExecution"] or {})
                                  .get("activityIdentifier") and http.get(job_url).json()["status"]["lastExecution"],
                                  timeout=30)  # well inside the lease's 60 s
        assert finished["error"] is None, finished
        names = Counter(u["userName"] for u in scim.resources("Users"))
        assert names == Counter(u["userPrincipalName"] for u in users)  # every user once
    finally:
        first.stop()
        if second is not None:
            second.stop()
