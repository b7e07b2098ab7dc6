"""Prometheus metrics and the per-cycle log line, as an operator sees them: ``graphsync serve``
and ``graphsync worker`` run as processes of their own (their counters are theirs alone, so the
tests can say by exactly how much a cycle moved them), real cycles run against scim2-server or a
target that rejects some objects, and ``/metrics`` is scraped over HTTP before and after."""
from __future__ import annotations

import json
import logging
import os
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from graphsync.testing import BackgroundServer, InMemoryScimTarget, free_port
from tests.conftest import TEST_SECRET_KEY, throwaway_postgres
from tests.e2e.test_hr_to_scim import API_APP, upload, worker
from tests.e2e.test_target_quirks import cycle_after, directory_users, outbound_job
from tests.e2e.test_workers import Process, _answers
from tests.waiting import eventually

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


def scrape(url: str, token: str | None = METRICS_TOKEN) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (sample name, labels) → value."""
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)
    assert response.status_code == 200, response.text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def cycle_lines(output: str) -> list[dict]:
    """The engine's per-cycle log lines in a process's output (the JSON after the logger's prefix)."""
    return [json.loads(line.split("graphsync.engine: ", 1)[1]) for line in output.splitlines()
            if "graphsync.engine: " in line and '"event":"cycle"' in line]


def base_env(tmp_path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, GRAPHSYNC_DATA_DIR=str(tmp_path / "var"), GRAPHSYNC_SECRET_KEY=TEST_SECRET_KEY,
               GRAPHSYNC_ENGINE_POLL_SECONDS="0.2", GRAPHSYNC_LOG_LEVEL="info", GRAPHSYNC_METRICS_TOKEN=METRICS_TOKEN)
    for name in ("GRAPHSYNC_DATABASE_URL", "GRAPHSYNC_ENGINE", "GRAPHSYNC_METRICS", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    env.update(extra)
    return env


class Serve:
    def __init__(self, process: Process, base: str):
        self.process, self.base = process, base

    @property
    def metrics(self) -> str:
        return f"{self.base}/metrics"

    def client(self) -> httpx.Client:
        tenant = httpx.post(f"{self.base}/graphsync/tenants", params={"displayName": "metrics"}).json()
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                            timeout=30)


def start_serve(tmp_path, env: dict[str, str], *args: str, name: str = "serve") -> Serve:
    port = free_port()
    process = Process(["serve", "--emulator", "--port", str(port), *args], env, tmp_path / f"{name}.log")
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(base, process), timeout=60)
    except BaseException:
        process.stop()
        raise
    return Serve(process, base)


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """``graphsync serve`` on SQLite, engine on, GRAPHSYNC_METRICS_TOKEN set."""
    tmp_path = tmp_path_factory.mktemp("metrics-serve")
    live = start_serve(tmp_path, base_env(tmp_path))
    yield live
    live.process.stop()


def job_id(job_url: str) -> str:
    return job_url.rsplit("/", 1)[1]


def test_metrics_need_the_configured_bearer_token(serve):
    missing = httpx.get(serve.metrics)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(serve.metrics, headers={"Authorization": "Bearer not-the-token"}).status_code == 401
    assert httpx.get(serve.metrics, headers={"Authorization": f"Basic {METRICS_TOKEN}"}).status_code == 401
    answer = httpx.get(serve.metrics, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "graphsync_cycles_total" in answer.text and "graphsync_queue_depth" in answer.text


def test_an_outbound_cycle_moves_the_counters_and_logs_one_line(serve, scim_server):
    before = scrape(serve.metrics)
    tag = uuid.uuid4().hex[:8]
    with serve.client() as http:
        users = directory_users(http, tag, 4)
        job_url = outbound_job(http, tag, scim_server.url, scim_server.token, interval="PT1H")
        execution = cycle_after(http, job_url, None)
    assert execution["countExported"] == 4 and execution["error"] is None
    after = scrape(serve.metrics)

    assert moved(before, after, "graphsync_cycles_total", kind="initial", outcome="succeeded") == 1
    for kind, outcome in (("initial", "failed"), ("incremental", "succeeded"), ("inbound", "succeeded")):
        assert moved(before, after, "graphsync_cycles_total", kind=kind, outcome=outcome) == 0
    assert moved(before, after, "graphsync_cycle_duration_seconds_count", kind="initial") == 1
    assert moved(before, after, "graphsync_objects_total", direction="outbound", action="create", status="success") == 4
    assert moved(before, after, "graphsync_objects_total", direction="outbound", action="create", status="failure") == 0
    # the target's latency: the four creates, and the listing the engine matched against
    assert moved(before, after, "graphsync_target_request_duration_seconds_count", method="POST",
                 status_class="2xx") == 4
    assert moved(before, after, "graphsync_target_request_duration_seconds_count", method="GET",
                 status_class="2xx") >= 1
    assert moved(before, after, "graphsync_target_request_duration_seconds_sum", method="POST", status_class="2xx") > 0
    assert value(after, "graphsync_queue_depth", direction="outbound") == 0  # next cycle in an hour
    assert value(after, "graphsync_escrowed_objects") == 0

    lines = [line for line in cycle_lines(serve.process.output()) if line["jobId"] == job_id(job_url)]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["kind"] == "initial" and line["outcome"] == "succeeded" and line["error"] is None
    assert (line["imported"], line["exported"], line["escrowed"]) == (4, 4, 0)
    assert line["cycleId"] == execution["activityIdentifier"] and line["durationMs"] >= 0
    raw = next(text for text in serve.process.output().splitlines() if job_id(job_url) in text and "event" in text)
    assert not any(user["userPrincipalName"] in raw or user["displayName"] in raw for user in users)


@pytest.fixture
def picky_target():
    """A SCIM target that answers 400 to the create of any user whose userName starts with q0."""
    target = InMemoryScimTarget(fail=lambda method, kind, body: 400 if method == "POST" and kind == "Users"
                                and str((body or {}).get("userName", "")).startswith("q0.") else None,
                                token="picky-token")
    server = BackgroundServer(target, free_port(), "the picky target").start()
    yield server
    server.stop()


def test_escrows_failed_cycles_and_inbound_runs_are_counted(serve, picky_target):
    before = scrape(serve.metrics)
    tag = uuid.uuid4().hex[:8]
    with serve.client() as http:
        directory_users(http, tag, 3)
        # one of three users is refused by the target: escrowed, the cycle still succeeds
        escrowing = outbound_job(http, tag, picky_target.url, "picky-token", interval="PT1H")
        execution = cycle_after(http, escrowing, None)
        assert (execution["countExported"], execution["countEscrowed"]) == (2, 1)
        # a job whose token the target refuses: the cycle fails
        refused = outbound_job(http, tag, picky_target.url, "wrong-token", interval="PT1H")
        failed = eventually(lambda: (http.get(refused).json()["status"]["lastExecution"] or {}).get("error"),
                            timeout=60)  # a failed cycle has no activityIdentifier
        assert failed["code"] == "CredentialsRejected"
        # API-driven inbound: two records, one run over them
        hr = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate", json={"displayName": "HR"}).json()
        sync = f"/v1.0/servicePrincipals/{hr['servicePrincipal']['id']}/synchronization"
        inbound = http.post(f"{sync}/jobs", json={"templateId": "API2AAD"}).json()["id"]
        assert http.post(f"{sync}/jobs/{inbound}/start").status_code == 204
        upload(http, f"{sync}/jobs/{inbound}/bulkUpload",
               worker(f"A{tag}", f"a.{tag}@contoso.test", "Ada Archer", "Clerk", "Retail"),
               worker(f"B{tag}", f"b.{tag}@contoso.test", "Bo Baker", "Clerk", "Retail"))
        eventually(lambda: (http.get(f"{sync}/jobs/{inbound}").json()["status"]["lastExecution"] or {})
                   .get("countExported") == 2, timeout=60)
    after = scrape(serve.metrics)

    assert moved(before, after, "graphsync_cycles_total", kind="initial", outcome="succeeded") == 1
    assert moved(before, after, "graphsync_cycles_total", kind="initial", outcome="failed") == 1
    assert moved(before, after, "graphsync_cycles_total", kind="inbound", outcome="succeeded") == 1
    assert moved(before, after, "graphsync_cycle_escrows_total", kind="initial") == 1
    assert value(after, "graphsync_escrowed_objects") == 1  # waiting for its retry in 6 hours
    assert moved(before, after, "graphsync_objects_total", direction="outbound", action="create", status="success") == 2
    assert moved(before, after, "graphsync_objects_total", direction="outbound", action="create", status="failure") == 1
    assert moved(before, after, "graphsync_objects_total", direction="inbound", action="create", status="success") == 2
    assert moved(before, after, "graphsync_target_request_duration_seconds_count", method="POST",
                 status_class="4xx") == 1
    assert moved(before, after, "graphsync_target_request_duration_seconds_count", method="GET",
                 status_class="4xx") >= 1

    lines = {line["jobId"]: line for line in cycle_lines(serve.process.output())}
    assert (lines[job_id(escrowing)]["outcome"], lines[job_id(escrowing)]["escrowed"]) == ("succeeded", 1)
    assert (lines[job_id(refused)]["outcome"], lines[job_id(refused)]["error"]) == ("failed", "CredentialsRejected")
    assert "wrong-token" not in serve.process.output()
    assert lines[inbound]["kind"] == "inbound" and (lines[inbound]["imported"], lines[inbound]["exported"]) == (2, 2)


def test_a_worker_serves_its_engine_metrics_on_metrics_port(tmp_path, scim_server):
    env = base_env(tmp_path)
    server = start_serve(tmp_path, env, "--no-engine")
    port = free_port()
    worker_process = Process(["worker", "--metrics-port", str(port)], env, tmp_path / "worker.log")
    try:
        eventually(worker_process.running, timeout=60)
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == 401  # the same token as serve's /metrics
        tag = uuid.uuid4().hex[:8]
        with server.client() as http:
            directory_users(http, tag, 2)
            job_url = outbound_job(http, tag, scim_server.url, scim_server.token, interval="PT1H")
            assert cycle_after(http, job_url, None)["countExported"] == 2
        in_worker = scrape(url)
        assert value(in_worker, "graphsync_cycles_total", kind="initial", outcome="succeeded") == 1
        assert value(in_worker, "graphsync_objects_total", direction="outbound", action="create",
                     status="success") == 2
        assert value(in_worker, "graphsync_target_request_duration_seconds_count", method="POST",
                     status_class="2xx") == 2
        # the API-only server ran no cycle; it still tells how many jobs wait
        in_server = scrape(server.metrics)
        assert value(in_server, "graphsync_cycles_total", kind="initial", outcome="succeeded") == 0
        assert ("graphsync_queue_depth", frozenset({("direction", "outbound")})) in in_server
        assert any(line["jobId"] == job_id(job_url) for line in cycle_lines(worker_process.output()))
    finally:
        assert worker_process.stop() == 0, worker_process.output()
        server.process.stop()


def test_every_uvicorn_worker_answers_the_sum_of_all(tmp_path, scim_server):
    """serve --workers 2 (PostgreSQL): whichever process takes a scrape, it counts the cycle that
    ran in one of them (prometheus_client's multiprocess mode)."""
    with throwaway_postgres("graphsync_metrics") as url:
        env = base_env(tmp_path, GRAPHSYNC_DATABASE_URL=url)
        server = start_serve(tmp_path, env, "--workers", "2")
        try:
            tag = uuid.uuid4().hex[:8]
            with server.client() as http:
                directory_users(http, tag, 3)
                job_url = outbound_job(http, tag, scim_server.url, scim_server.token, interval="PT1H")
                assert cycle_after(http, job_url, None)["countExported"] == 3
            for _ in range(8):  # a new connection each: the processes take turns accepting
                samples = scrape(server.metrics)
                assert value(samples, "graphsync_cycles_total", kind="initial", outcome="succeeded") == 1
                assert value(samples, "graphsync_objects_total", direction="outbound", action="create",
                             status="success") == 3
        finally:
            server.process.stop()


def test_each_cycle_logs_one_json_line_without_user_data(http, scim_server, caplog):
    """In the server's own process (both stores): the graphsync.engine logger's INFO line."""
    caplog.set_level(logging.INFO, logger="graphsync.engine")
    tag = uuid.uuid4().hex[:8]
    users = directory_users(http, tag, 2)
    job_url = outbound_job(http, tag, scim_server.url, scim_server.token, interval="PT1H")
    execution = cycle_after(http, job_url, None)

    def lines():
        return [json.loads(record.getMessage()) for record in caplog.records
                if record.name == "graphsync.engine" and job_id(job_url) in record.getMessage()]
    found = eventually(lines)
    assert len(found) == 1
    line = found[0]
    assert line["event"] == "cycle" and line["cycleId"] == execution["activityIdentifier"]
    assert (line["kind"], line["outcome"], line["imported"], line["exported"]) == ("initial", "succeeded", 2, 2)
    assert set(line) == {"event", "tenantId", "jobId", "cycleId", "kind", "outcome", "durationMs", "imported",
                         "exported", "escrowed", "error"}
    message = next(r.getMessage() for r in caplog.records if job_id(job_url) in r.getMessage())
    assert not any(user["userPrincipalName"] in message or user["displayName"] in message for user in users)
