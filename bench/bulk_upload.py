"""API-driven inbound provisioning throughput: records/s from the first bulkUpload request to the
last record applied in the directory, with the server's peak RSS.

A real server (``graphsync serve``, SQLite under a temporary directory unless --database-url is
given) runs in its own process; this process uploads N worker records (every worker but the
first reports to an earlier one, so managers are resolved too) through HTTP, from a few client
threads, with Entra's default limits lifted by the job settings BulkUploadMaxOperations=0 and
BulkUploadRequestsPerSecond=0. The clock stops when ``/users/$count`` reaches N and the job has
nothing staged any more. Meanwhile another client GETs the job five times a second: its latency
percentiles show how long a reader waits while records are written.

With ``--workers N`` (N ≥ 1) the server runs without its engine (``serve --no-engine``) and N
``graphsync worker`` processes beside it apply the records; 0 (the default) is one process doing
both. The peak RSS of every process is printed.

Baseline, run in this process on the same request bodies after the measurement: a bare writer
that parses each body and INSERTs one JSON row a worker (id, UPN, employeeId and manager
resolved by a dict) into a SQLite table with the same unique keys, in one transaction a body. It
is the floor of writing these users at all; the ratio to it says how much the engine's work
(mapping, matching, validation, change feed, provisioning logs) costs, and it moves much less
than records/s when the shared machine's speed does.

    python bench/bulk_upload.py [--records 100000] [--per-request 500] [--clients 4] [--workers 0]
                                [--database-url URL]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

API_APP = "557df4cf-766b-4086-85d9-55769b9c02cb"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
DEPARTMENTS = ("Sales", "Retail", "Operations", "R&D", "Finance")


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker(i: int) -> dict:
    data = {
        "schemas": [CORE, ENTERPRISE], "externalId": f"{100000 + i}", "userName": f"worker{i}@contoso.test",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"}, "displayName": f"Worker {i}",
        "emails": [{"value": f"worker{i}@contoso.test", "type": "work", "primary": True}],
        "addresses": [{"type": "work", "locality": "Oslo", "country": "NO", "postalCode": f"{i % 10000:04d}"}],
        "phoneNumbers": [{"type": "work", "value": f"+47 {i:08d}"}], "title": "Engineer", "active": True,
        ENTERPRISE: {"department": DEPARTMENTS[i % 5], "employeeNumber": str(100000 + i)},
    }
    if i:
        data[ENTERPRISE]["manager"] = {"value": f"{100000 + (i - 1) // 10}"}
    return data


GRAPHSYNC = str(Path(sys.executable).with_name("graphsync"))


def environment(data_dir: str, database_url: str) -> dict[str, str]:
    env = dict(os.environ, GRAPHSYNC_DATA_DIR=data_dir, GRAPHSYNC_MAX_BODY_BYTES=str(64 * 1024 * 1024),
               GRAPHSYNC_ENGINE_POLL_SECONDS="0.05", GRAPHSYNC_LOG_LEVEL="warning")
    env.pop("GRAPHSYNC_ENGINE", None)
    if database_url:
        env["GRAPHSYNC_DATABASE_URL"] = database_url
    return env


def start_server(port: int, env: dict[str, str], engine: bool) -> subprocess.Popen:
    command = [GRAPHSYNC, "serve", "--emulator", "--port", str(port)] + ([] if engine else ["--no-engine"])
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/v1.0/$metadata", timeout=1)
            return process
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode())
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """``graphsync worker`` processes, once each says it is running."""
    workers = [subprocess.Popen([GRAPHSYNC, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
               for _ in range(count)]
    for process in workers:
        line = process.stdout.readline().decode()
        if "running" not in line:
            raise RuntimeError(f"the worker did not start: {line}{process.stdout.read().decode()}")
        threading.Thread(target=forward, args=(process.stdout,), daemon=True).start()
    return workers


def forward(stream) -> None:
    """What a worker says after starting (warnings, its stop) goes to stderr, and the pipe never fills."""
    for line in stream:
        sys.stderr.write(line.decode(errors="replace"))


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_writer(bodies: list[bytes], directory: str) -> float:
    """Records/s of the baseline (see the module's docstring)."""
    connection = sqlite3.connect(os.path.join(directory, "bare.db"), isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE users (id TEXT PRIMARY KEY, upn TEXT NOT NULL UNIQUE, employee_id TEXT, "
                       "manager_id TEXT, doc TEXT NOT NULL)")
    connection.execute("CREATE INDEX users_employee_id ON users (employee_id)")
    ids: dict[str, str] = {}
    records = 0
    began = time.perf_counter()
    for body in bodies:
        rows = []
        for operation in json.loads(body)["Operations"]:
            data = operation["data"]
            user_id = ids[data["externalId"]] = str(uuid.uuid4())
            manager = ids.get((data[ENTERPRISE].get("manager") or {}).get("value"))
            doc = {"id": user_id, "employeeId": data["externalId"], "userPrincipalName": data["userName"],
                   "displayName": data["displayName"], "givenName": data["name"]["givenName"],
                   "surname": data["name"]["familyName"], "jobTitle": data["title"],
                   "department": data[ENTERPRISE]["department"], "accountEnabled": data["active"]}
            rows.append((user_id, data["userName"].lower(), data["externalId"], manager, json.dumps(doc)))
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO users VALUES (?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
        records += len(rows)
    elapsed = time.perf_counter() - began
    connection.close()
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-request", type=int, default=500, help="operations per bulk request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent uploading threads")
    parser.add_argument("--workers", type=int, default=0,
                        help="graphsync worker processes beside an API-only server (0: the server's own engine)")
    parser.add_argument("--database-url", default="", help="e.g. postgresql://… (default: SQLite in a temp dir)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = environment(tmp, args.database_url)
        server = start_server(port, env, engine=args.workers == 0)
        workers: list[subprocess.Popen] = []
        try:
            workers = start_workers(args.workers, env)
            processes = {"server" if workers else "server (API and engine)": server.pid}
            processes.update({f"worker {i + 1}": w.pid for i, w in enumerate(workers)})
            run(f"http://127.0.0.1:{port}", args, processes, tmp)
        finally:
            for process in [*workers, server]:
                process.terminate()
            for process in [*workers, server]:
                process.wait(timeout=60)


def run(base: str, args, processes: dict[str, int], tmp: str) -> None:
    tenant = httpx.post(f"{base}/graphsync/tenants", params={"displayName": "bench"}).json()
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tenant['accessToken']}"}, timeout=600)
    sp = http.post(f"/v1.0/applicationTemplates/{API_APP}/instantiate",
                   json={"displayName": "HR bench"}).json()["servicePrincipal"]
    sync = f"/v1.0/servicePrincipals/{sp['id']}/synchronization"
    job = http.post(f"{sync}/jobs", json={"templateId": "API2AAD", "synchronizationJobSettings": [
        {"name": "BulkUploadMaxOperations", "value": "0"}, {"name": "BulkUploadRequestsPerSecond", "value": "0"}]})
    job.raise_for_status()
    job_id = job.json()["id"]
    http.post(f"{sync}/jobs/{job_id}/start").raise_for_status()
    url = f"{sync}/jobs/{job_id}/bulkUpload"

    n, size = args.records, args.per_request
    print(f"building {n} records …", flush=True)
    built = [json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                         "Operations": [{"method": "POST", "path": "/Users", "bulkId": str(i), "data": worker(i)}
                                        for i in range(start, min(n, start + size))],
                         "failOnErrors": None}).encode() for start in range(0, n, size)]
    bodies: queue.Queue = queue.Queue()
    for body in built:
        bodies.put(body)
    requests = bodies.qsize()
    errors: list[str] = []

    def upload() -> None:
        with httpx.Client(base_url=base, timeout=600, headers={
                "Authorization": f"Bearer {tenant['accessToken']}", "Content-Type": "application/scim+json"}) as client:
            while True:
                try:
                    body = bodies.get_nowait()
                except queue.Empty:
                    return
                response = client.post(url, content=body)
                if response.status_code != 202:
                    errors.append(f"{response.status_code} {response.text[:300]}")

    # how long a reader waits meanwhile: GET the job (what a dashboard polls) five times a second
    latencies: list[float] = []
    loading = threading.Event()

    def read_job() -> None:
        with httpx.Client(base_url=base, timeout=600, headers=http.headers) as client:
            while not loading.wait(0.2):
                sent = time.perf_counter()
                client.get(f"{sync}/jobs/{job_id}").raise_for_status()
                latencies.append(time.perf_counter() - sent)

    print(f"uploading {n} records in {requests} requests of {size} from {args.clients} clients …", flush=True)
    began = time.perf_counter()
    reader = threading.Thread(target=read_job)
    reader.start()
    threads = [threading.Thread(target=upload) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    uploaded = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} uploads failed, e.g. {errors[0]}")
    # a worker's manager is set in the transaction that creates the worker or, when the manager
    # comes later, the manager: all N users existing means every record has been applied. Each
    # count reads the whole directory: asked ten times a second, it costs the server little.
    while int(http.get("/v1.0/users/$count").text) < n:
        time.sleep(0.1)
    elapsed = time.perf_counter() - began
    loading.set()
    reader.join()
    counting = time.perf_counter()
    http.get("/v1.0/users/$count")
    counting = time.perf_counter() - counting
    paging = time.perf_counter()
    second = http.get(http.get("/v1.0/users", params={"$top": 999}).json()["@odata.nextLink"])
    second.raise_for_status()
    paging = (time.perf_counter() - paging) / 2
    failures = http.get("/v1.0/auditLogs/provisioning", params={
        "$filter": f"jobId eq '{job_id}' and provisioningStatusInfo/status eq 'failure'", "$top": 1}).json()
    print(f"uploads done after {uploaded:.1f} s ({n / uploaded:.0f} records/s accepted)")
    print(f"{n} records applied in {elapsed:.1f} s = {n / elapsed:.0f} records/s "
          f"(first request → last record in the directory)")
    last = http.get("/v1.0/users", params={"$filter": f"employeeId eq '{100000 + n - 1}'"}).json()["value"][0]
    manager = http.get(f"/v1.0/users/{last['id']}/manager").json()
    print(f"failed records: {len(failures.get('value', []))}; the last worker reports to {manager['employeeId']}; "
          f"GET /users/$count of {n} users took {counting * 1000:.0f} ms, a page of 999 users {paging * 1000:.0f} ms")
    latencies.sort()
    if latencies:
        def at(share: float) -> float:
            return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000
        print(f"GET job while loading ({len(latencies)} requests): p50 {at(0.5):.0f} ms, p95 {at(0.95):.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms")
    for name, pid in processes.items():
        print(f"{name} peak RSS: {peak_rss_mib(pid):.0f} MiB, CPU {cpu_seconds(pid):.1f} s")
    bare = bare_writer(built, tmp)
    print(f"baseline, a bare sqlite3 writer of the same users from the same bodies: {bare:.0f} records/s; "
          f"ratio graphsync/bare {n / elapsed / bare:.2f}")


if __name__ == "__main__":
    main()
