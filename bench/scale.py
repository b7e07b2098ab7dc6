"""Scale of the engine's scheduling (issue #16).

(1) idle: the CPU an idle ``graphsync serve`` (its engine on) and an idle ``graphsync worker`` use
    with --jobs jobs in the database (half never started, a quarter paused, a quarter active and
    scheduled a day ahead), as a share of one core over --seconds, against the same two
    processes on an empty database in the same run (the floor: uvicorn, the lease heartbeat, the
    poll itself). Goal: ≤ 2 % of a core per process at 100,000 jobs.
(2) start: from POST …/start to the first SCIM request reaching the target, over --runs jobs,
    with the API in one process and the engine in --workers other processes (the worker has to
    learn of the job from the database), against the same measure with the engine in the API's
    own process (woken directly). Goal: p95 ≤ 100 ms across processes.
(3) spread: one initial cycle of --users users (PostgreSQL: cut into buckets of 1,000, the default) against a
    SCIM target that answers each request after --latency seconds, run by 1, 2 and 4 worker
    processes taking one task at a time each (GRAPHSYNC_ENGINE_CONCURRENCY=1: a worker per
    machine); the speed-up against the one-worker run of the same measurement. Goal: ≥ 3.5x at 4.
    The baseline, in the same run against the same target: 1, 2 and 4 processes of a bare aiohttp
    client POSTing the bodies the engine sends for the same users, 8 at a time each (what the
    machine and the target allow with no engine, no database and no logs at all).

    python bench/scale.py [--jobs 100000] [--seconds 20] [--runs 20] [--workers 1]
                          [--users 20000] [--latency 0.02] [--spread 1,2,4]
                          [--database-url postgresql://…] [--only idle|start|spread]
"""
from __future__ import annotations

import argparse
import base64
import copy
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import uvicorn

from bulk_upload import cpu_seconds, environment, free_port, start_server, start_workers
from graphsync.config import Settings
from graphsync.models import InstantiateBody, JobCreate
from graphsync.runtime.runtime import Runtime
from graphsync.services import applications, jobs, synchronization
from graphsync.store.tables import sync_jobs

SCIM_APP = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


# -- (1) idle ------------------------------------------------------------------------------------

def seed_jobs(settings: Settings, count: int) -> None:
    """``count`` jobs of one service principal, written as rows (a job created through the
    service, copied): creating 100,000 one by one would take minutes and measure nothing."""
    runtime = Runtime(settings).start()
    try:
        tenant = settings.default_tenant_id
        with runtime.unit(tenant) as ctx:
            sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="scale"))["servicePrincipal"]
            owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
            template = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
        with runtime.db.reading() as conn:
            row = conn.execute(sync_jobs.select().where(sync_jobs.c.id == template["id"])).first()
        later = datetime.now(timezone.utc) + timedelta(days=1)
        rows = []
        for i in range(1, count):
            job_id = f"scim.{uuid.uuid4()}"
            doc = copy.deepcopy(row.doc)
            doc["id"] = job_id
            state = dict(row.state)
            due_at = None
            if i % 4 == 1:  # paused
                doc["schedule"]["state"] = "Paused"
            elif i % 4 == 2:  # active, its next cycle a day away
                doc["schedule"]["state"] = "Active"
                state.update(watermark=1, nextRunAt=later.isoformat(), initialCyclePending=False)
                due_at = later
            rows.append({"tenant_id": row.tenant_id, "owner_id": row.owner_id, "id": job_id,
                         "template_id": row.template_id, "doc": doc, "schema": row.schema, "state": state,
                         "created_at": row.created_at, "applied_seq": 0, "due_at": due_at})
            if len(rows) == 5000 or i == count - 1:
                with runtime.db.transaction() as conn:
                    conn.execute(sync_jobs.insert(), rows)
                rows = []
    finally:
        runtime.close()


def idle_cpu(env: dict[str, str], seconds: float) -> dict[str, float]:
    """Share of a core used by an idle serve (engine on) and an idle worker, after a warm-up."""
    server = start_server(free_port(), env, engine=True)
    workers = start_workers(1, env)
    processes = {"serve": server, "worker": workers[0]}
    try:
        time.sleep(3)  # start-up done, the first polls made
        before = {name: cpu_seconds(p.pid) for name, p in processes.items()}
        time.sleep(seconds)
        return {name: (cpu_seconds(p.pid) - before[name]) / seconds for name, p in processes.items()}
    finally:
        for process in processes.values():
            process.terminate()
            process.wait()


def bench_idle(args) -> None:
    print(f"(1) idle CPU, {args.jobs:,} jobs against none ({args.seconds:.0f} s each, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'})")
    for count in (0, args.jobs):
        with tempfile.TemporaryDirectory() as tmp, database(args.database_url) as url:
            settings = Settings(data_dir=tmp, database_url=url, secret_key=KEY)
            if count:
                began = time.perf_counter()
                seed_jobs(settings, count)
                print(f"    seeded {count:,} jobs in {time.perf_counter() - began:.1f} s")
            shares = idle_cpu(dict(environment(tmp, url), GRAPHSYNC_SECRET_KEY=KEY, GRAPHSYNC_ENGINE_POLL_SECONDS="1"),
                              args.seconds)
            print(f"    {count:>7,} jobs: serve {shares['serve']:.2%} of a core, worker {shares['worker']:.2%}")


# -- (2) start → first SCIM request ------------------------------------------------------------

class Target:
    """A SCIM endpoint that only notes when each job's first request arrives (path /j/<job>/…)
    and answers every request as an empty list."""

    def __init__(self):
        self.first: dict[str, float] = {}
        self.arrived = threading.Condition()
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                interface="asgi3")
        self.server = uvicorn.Server(config)
        threading.Thread(target=self.server.run, daemon=True).start()
        while not self.server.started:
            time.sleep(0.02)

    async def app(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].split("/")
        if len(parts) > 2 and parts[1] == "j":
            with self.arrived:
                self.first.setdefault(parts[2], time.monotonic())
                self.arrived.notify_all()
        body = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/scim+json")]})
        await send({"type": "http.response.body", "body": body})

    def wait_for(self, key: str, timeout: float = 30) -> float:
        with self.arrived:
            if not self.arrived.wait_for(lambda: key in self.first, timeout):
                raise RuntimeError(f"no request for {key} within {timeout} s")
            return self.first[key]


def start_latencies(base: str, target: Target, runs: int) -> list[float]:
    tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "scale"}).json()
    latencies = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        sp = http.post(f"/v1.0/applicationTemplates/{SCIM_APP}/instantiate",
                       json={"displayName": "scale"}).json()["servicePrincipal"]["id"]
        sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
        http.put(f"{sync}/secrets", json={"value": [{"key": "SyncAll", "value": "true"}]})
        for _ in range(runs):
            job = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
            key = uuid.uuid4().hex
            # each job its own endpoint (secrets belong to the service principal: one job at a time)
            http.put(f"{sync}/secrets", json={"value": [
                {"key": "BaseAddress", "value": f"{target.url}/j/{key}"}, {"key": "SyncAll", "value": "true"}]})
            began = time.monotonic()
            http.post(f"{sync}/jobs/{job}/start").raise_for_status()
            latencies.append(target.wait_for(key) - began)
            http.post(f"{sync}/jobs/{job}/pause")
    return latencies


def bench_start(args) -> None:
    target = Target()
    target.url = f"http://127.0.0.1:{target.port}"
    print(f"(2) start → first SCIM request, {args.runs} jobs ({'PostgreSQL' if args.database_url else 'SQLite'})")
    for workers in (0, args.workers):
        with tempfile.TemporaryDirectory() as tmp, database(args.database_url) as url:
            env = dict(environment(tmp, url), GRAPHSYNC_SECRET_KEY=KEY, GRAPHSYNC_ENGINE_POLL_SECONDS="1")
            server = start_server(free_port(), env, engine=workers == 0)
            started = start_workers(workers, env)
            base = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"
            try:
                in_order = start_latencies(base, target, args.runs)
                latencies = sorted(in_order)
            finally:
                for process in [server, *started]:
                    process.terminate()
                    process.wait()
        p50, p95 = statistics.median(latencies), latencies[max(0, round(0.95 * len(latencies)) - 1)]
        where = "engine in the API process" if workers == 0 else f"API + {workers} worker process(es)"
        print(f"    {where}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms "
              f"(the first job: {in_order[0] * 1000:.0f} ms)")


# -- (3) one cycle, several workers ------------------------------------------------------------

TARGET_CODE = """
import asyncio, sys, uvicorn
from graphsync.testing import InMemoryScimTarget
target, latency = InMemoryScimTarget(), float(sys.argv[2])
async def app(scope, receive, send):
    if scope["type"] == "http":
        await asyncio.sleep(latency)
    await target(scope, receive, send)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


BARE_CODE = """
import asyncio, sys, time, aiohttp
from graphsync import codec, expressions
from graphsync.engine.mapping import compile_schema, evaluate
from graphsync.engine.resource import build_resource
from graphsync.engine.source_view import user_attributes
from graphsync.services import applications
base, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rule = next(r for r in compile_schema(applications.builtin.builtin_template("scim")["schema"]) if not r.group)
context = expressions.EvaluationContext(default_domain="contoso.test")
def body(i):
    user = {"id": f"x{i}", "accountEnabled": True, "displayName": f"User {i}", "userPrincipalName": f"user{i}@contoso.test",
            "mailNickname": f"user{i}", "mail": f"user{i}@contoso.test", "department": "Sales"}
    values = evaluate(rule, user_attributes(user, soft_deleted=False, manager_id=None), context, creating=True).values
    return codec.dumps_bytes(build_resource(values, group=False))
async def main():
    headers = {"Content-Type": "application/scim+json", "Accept": "application/scim+json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        gate = asyncio.Semaphore(8)
        async def post(i):
            async with gate:  # the body is built when a slot frees, as the engine maps its users
                async with session.post(base + "/Users", data=body(i), headers=headers) as response:
                    await response.read()
                    assert response.status == 201, response.status
        print("ready", flush=True)
        sys.stdin.readline()
        await asyncio.gather(*(post(i) for i in range(first, first + count)))
asyncio.run(main())
"""


def bare_run(args, processes: int) -> float:
    """Seconds for ``processes`` bare clients to POST --users users between them (from their
    common start, once each has imported and built its session)."""
    import subprocess
    port = free_port()
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(port), str(args.latency)])
    try:
        wait_for_port(port)
        share = args.users // processes
        clients = [subprocess.Popen([sys.executable, "-c", BARE_CODE, f"http://127.0.0.1:{port}", str(n * share),
                                     str(share if n < processes - 1 else args.users - share * n)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for n in range(processes)]
        for client in clients:
            if client.stdout.readline().strip() != "ready":
                raise RuntimeError("a bare client did not start")
        began = time.monotonic()
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        for client in clients:
            if client.wait() != 0:
                raise RuntimeError("a bare client failed")
        return time.monotonic() - began
    finally:
        target.terminate()
        target.wait()


def wait_for_port(port: int, timeout: float = 30) -> None:
    import socket
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def seed_users(settings: Settings, count: int, target_url: str) -> tuple[str, str, str]:
    """``count`` users and a started-able job against ``target_url``: (tenant, service principal, job)."""
    from graphsync.models import SecretPair
    from graphsync.services import directory
    runtime = Runtime(settings).start()
    try:
        tenant = settings.default_tenant_id
        for start in range(0, count, 5000):
            with runtime.unit(tenant) as ctx:
                directory.create_users(ctx, [{
                    "accountEnabled": True, "displayName": f"User {i}", "userPrincipalName": f"user{i}@contoso.test",
                    "mailNickname": f"user{i}", "mail": f"user{i}@contoso.test", "department": "Sales"}
                    for i in range(start, min(count, start + 5000))])
        with runtime.unit(tenant) as ctx:
            sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="spread"))["servicePrincipal"]
            owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
            job = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
            synchronization.merge_secrets(ctx, owner, [SecretPair(key="BaseAddress", value=target_url),
                                                       SecretPair(key="SyncAll", value="true")])
        return tenant, sp["id"], job["id"]
    finally:
        runtime.close()


def postgres_cpu() -> float:
    """CPU seconds of every process of the local PostgreSQL server so far (its backends come and go)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() in ("postgres", "postmaster"):
                total += cpu_seconds(int(pid))
        except OSError:
            continue
    return total


def machine_busy() -> float:
    """Seconds of CPU the whole machine has spent not idle (all cores, /proc/stat)."""
    fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def spread_run(args, workers: int) -> float:
    """Seconds from start to the cycle's record, with ``workers`` worker processes."""
    import subprocess
    port = free_port()
    target = subprocess.Popen([sys.executable, "-c", TARGET_CODE, str(port), str(args.latency)])
    with tempfile.TemporaryDirectory() as tmp, database(args.database_url) as url:
        settings = Settings(data_dir=tmp, database_url=url, secret_key=KEY)
        tenant, sp, job = seed_users(settings, args.users, f"http://127.0.0.1:{port}")
        env = dict(environment(tmp, url), GRAPHSYNC_SECRET_KEY=KEY, GRAPHSYNC_ENGINE_CONCURRENCY="1",
                   GRAPHSYNC_ENGINE_POLL_SECONDS="1")
        server_port = free_port()
        server = start_server(server_port, env, engine=False)
        started = start_workers(workers, env)
        base = f"http://127.0.0.1:{server_port}"
        try:
            runtime = Runtime(settings.model_copy(update={"port": server_port})).start()  # its issuer
            token = runtime.tokens.issue(tenant, "bench", ["Synchronization.ReadWrite.All"], runtime.clock.now())
            runtime.close()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
                url_job = f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}"
                began, busy = time.monotonic(), machine_busy()
                cpu = {p.pid: cpu_seconds(p.pid) for p in [*started, target, server]}
                database_cpu = postgres_cpu()
                http.post(f"{url_job}/start").raise_for_status()
                while not http.get(url_job).json()["status"]["lastExecution"]:
                    time.sleep(0.1)
                elapsed = time.monotonic() - began
                busy = (machine_busy() - busy) / elapsed / os.cpu_count()
                workers_cpu = sum(cpu_seconds(p.pid) - cpu[p.pid] for p in started) / elapsed
                share = {p: (cpu_seconds(p.pid) - cpu[p.pid]) / elapsed for p in (target, server)}
                print(f"      machine {busy:.0%} busy; share of a core: workers {workers_cpu:.0%}, the target "
                      f"{share[target]:.0%}, PostgreSQL {(postgres_cpu() - database_cpu) / elapsed:.0%}, "
                      f"the API {share[server]:.0%}")
                execution = http.get(url_job).json()["status"]["lastExecution"]
                if execution["error"] or execution["countExported"] != args.users:
                    raise RuntimeError(f"the cycle did not provision every user: {execution}")
                return elapsed
        finally:
            for process in [server, *started, target]:
                process.terminate()
                process.wait()


def bench_spread(args) -> None:
    if not args.database_url:
        print("(3) spread needs PostgreSQL (--database-url): on SQLite one process runs a cycle")
        return
    counts = [int(n) for n in args.spread.split(",")]
    print(f"(3) one initial cycle of {args.users:,} users, target latency {args.latency * 1000:.0f} ms a request, "
          f"workers {counts} (one task at a time each)")
    bare = {n: bare_run(args, n) for n in counts}
    first = None
    for workers in counts:
        elapsed = spread_run(args, workers)
        first = first or elapsed
        print(f"    {workers} worker(s): {elapsed:.1f} s = {args.users / elapsed:,.0f} users/s, "
              f"{first / elapsed:.2f}x the first; bare clients in {workers} process(es): "
              f"{bare[workers]:.1f} s = {args.users / bare[workers]:,.0f} users/s, {bare[counts[0]] / bare[workers]:.2f}x; "
              f"the engine at {bare[workers] / elapsed:.0%} of the bare clients' pace")


# -- plumbing -------------------------------------------------------------------------------------

KEY = base64.b64encode(os.urandom(32)).decode()  # one master key for every process of a measurement


class database:
    """A fresh PostgreSQL database per measurement (dropped after), or '' for SQLite."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.name = f"graphsync_scale_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        if not self.admin_url:
            return ""
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return f"{self.admin_url.rsplit('/', 1)[0]}/{self.name}"

    def __exit__(self, *exc) -> None:
        if self.admin_url:
            import psycopg
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", default="", help="an admin URL of a PostgreSQL server (a database is "
                                                          "created per measurement); default SQLite")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--spread", default="1,2,4")
    parser.add_argument("--only", choices=("idle", "start", "spread"))
    args = parser.parse_args()
    if args.only in (None, "idle"):
        bench_idle(args)
    if args.only in (None, "start"):
        bench_start(args)
    if args.only in (None, "spread"):
        bench_spread(args)


if __name__ == "__main__":
    sys.exit(main())
