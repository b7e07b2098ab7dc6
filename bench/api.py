"""API latency and throughput: graphsync vs a bare ASGI app on the same server stack.

Starts `graphsync serve` (SQLite, in a temp dir) and a bare uvicorn app that returns a fixed
JSON body, then drives both with the same async httpx load at 1 and 64 concurrent clients.
Prints p50/p99 latency, requests/s, the ratio graphsync/bare, cold start to first 200 and RSS.

    python bench/api.py [--requests 2000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from graphsync.testing import free_port

SCIM_APP_TEMPLATE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
BARE_APP = textwrap.dedent('''
    import json
    BODY = json.dumps({"@odata.context": "x", "id": "job", "templateId": "scim",
                       "schedule": {"interval": "PT40M", "state": "Active", "expiration": None}}).encode()
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": BODY})
''')


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(url: str, started: float, timeout: float = 60) -> float:
    while time.perf_counter() - started < timeout:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


async def load(url: str, headers: dict, concurrency: int, total: int) -> dict:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        await client.get(url)  # warm the connection pool
        remaining = total

        async def worker():
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario")
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        port, bare_port = free_port(), free_port()
        env.update(GRAPHSYNC_DATA_DIR=tmp, GRAPHSYNC_PORT=str(port), GRAPHSYNC_EMULATOR="true",
                   GRAPHSYNC_DATABASE_URL="", GRAPHSYNC_LOG_LEVEL="warning")
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "graphsync.cli", "serve"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
                                 "--log-level", "warning", "--no-access-log"], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            cold_start = wait_for(f"{base}/graphsync/health", started)
            wait_for(f"http://127.0.0.1:{bare_port}/", time.perf_counter())
            tenant = httpx.post(f"{base}/graphsync/tenants").json()
            headers = {"Authorization": f"Bearer {tenant['accessToken']}"}
            sp = httpx.post(f"{base}/v1.0/applicationTemplates/{SCIM_APP_TEMPLATE}/instantiate",
                            json={"displayName": "bench"}, headers=headers).json()["servicePrincipal"]["id"]
            jobs_url = f"{base}/v1.0/servicePrincipals/{sp}/synchronization/jobs"
            job_ids = [httpx.post(jobs_url, json={"templateId": "scim"}, headers=headers).json()["id"]
                       for _ in range(10)]
            first = time.perf_counter()
            httpx.get(f"{jobs_url}/{job_ids[0]}", headers=headers).raise_for_status()
            first_graph_ms = (time.perf_counter() - first) * 1000
            scenarios = [("GET job", f"{jobs_url}/{job_ids[0]}", headers),
                         ("list jobs (10)", jobs_url, headers),
                         ("bare ASGI", f"http://127.0.0.1:{bare_port}/", {})]
            results = {}
            for concurrency in (1, 64):
                for name, url, hdrs in scenarios:
                    results[(name, concurrency)] = asyncio.run(load(url, hdrs, concurrency, args.requests))
            print(f"graphsync API benchmark — {args.requests} requests per scenario, SQLite, uvicorn, 1 process")
            print(f"cold start to first 200: {cold_start * 1000:.0f} ms (first Graph GET after setup "
                  f"{first_graph_ms:.1f} ms); server RSS after load: {rss_mib(server.pid):.0f} MiB")
            print(f"{'scenario':<16}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}")
            for concurrency in (1, 64):
                bare_rps = results[("bare ASGI", concurrency)]["rps"]
                for name, _, _ in scenarios:
                    r = results[(name, concurrency)]
                    print(f"{name:<16}{concurrency:>8}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                          f"{r['rps'] / bare_rps:>9.2f}")
            print(json.dumps({f"{k[0]}@{k[1]}": v for k, v in results.items()}))
        finally:
            for process in (server, bare):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
