"""Provisioning cycle throughput.

(1) initial cycle to scim2-server next to a bare aiohttp client (the engine's HTTP library) POSTing the same users, each at
    concurrencies 4, 8 and 16 against a fresh scim2-server, best against best (--rounds R
    alternates R runs of each and keeps the best, to see through a shared machine's noise);
(2) initial cycle to an in-process SCIM target (engine-bound);
(3) an incremental cycle of 1,000 changes in a small (--users) and a large (--large, default 1M)
    directory, both against the fast SCIM target in its own process (so this process's peak RSS
    is the engine's), with the large initial cycle's rate and peak RSS.

    python bench/initial_cycle.py [--users 10000] [--large 1000000] [--skip-scim2 | --only-scim2]
                                  [--rounds 1]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import httpx

from graphsync import codec
from graphsync.config import Settings
from graphsync.engine.mapping import compile_schema
from graphsync.engine.resource import build_resource
from graphsync.models import InstantiateBody, JobCreate, SecretPair
from graphsync.runtime.runtime import Runtime, freeze_startup_heap
from graphsync.services import applications, directory, jobs, provisioning, synchronization
from graphsync.testing import InMemoryScimTarget as FastScim
from graphsync.testing import free_port

SCIM_APP = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
DEPARTMENTS = ("Sales", "Retail", "Ops", "R&D", "Finance")
CONCURRENCIES = (4, 8, 16)


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class PeakRss:
    """Samples this process's RSS while the block runs (ru_maxrss would include the seeding)."""

    def __enter__(self) -> PeakRss:
        self.peak, self._done = rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.2):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def user_body(i: int, tag: str) -> dict:
    return {"accountEnabled": True, "displayName": f"User {i} Ünïcode", "givenName": f"Given{i}",
            "surname": f"Sur{i}", "userPrincipalName": f"user{i}.{tag}@contoso.test", "mailNickname": f"u{i}{tag}",
            "mail": f"user{i}.{tag}@contoso.test", "jobTitle": "Engineer", "department": DEPARTMENTS[i % 5],
            "employeeId": str(100000 + i), "city": "Oslo", "country": "NO", "mobilePhone": f"+47 {i:08d}",
            "preferredLanguage": "nb-NO"}


def seed(runtime: Runtime, tenant: str, users: int, groups: int, tag: str) -> list[str]:
    """N users (batch writer) and N/10-ish groups of 10 members; returns the first 1,000 user ids."""
    first: list[str] = []
    members: list[str] = []
    per_group = max(1, users // max(groups, 1))
    for start in range(0, users, 5000):
        with runtime.unit(tenant) as ctx:
            created = directory.create_users(ctx, [user_body(i, tag) for i in range(start, min(users, start + 5000))])
        ids = [doc["id"] for doc in created]
        first.extend(ids[:1000 - len(first)])
        if groups:
            members.extend(ids)
    with runtime.unit(tenant) as ctx:
        for g in range(groups):
            directory.create_group(ctx, {"displayName": f"Group {g} {tag}", "mailEnabled": False,
                                         "securityEnabled": True, "mailNickname": f"g{g}{tag}"},
                                   member_ids=members[g * per_group:(g + 1) * per_group][:10])
    return first


def new_job(runtime: Runtime, tenant: str, base_address: str, token: str | None,
            bulk: int = 0, concurrency: int = 16) -> provisioning.JobRef:
    with runtime.unit(tenant) as ctx:
        sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="bench"))["servicePrincipal"]
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
        job = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
        pairs = [SecretPair(key="BaseAddress", value=base_address), SecretPair(key="SyncAll", value="true")]
        if token:
            pairs.append(SecretPair(key="SecretToken", value=token))
        synchronization.merge_secrets(ctx, owner, pairs)
        jobs.update_job(ctx, owner, job["id"], jobs.JobUpdate.model_validate(
            {"synchronizationJobSettings": [{"name": "ScimConcurrency", "value": str(concurrency)},
                                            {"name": "ScimBulkOperations", "value": str(bulk)}]}))
        jobs.start(ctx, owner, job["id"])
    return provisioning.JobRef(tenant, sp["id"], job["id"])


def timed_cycle(runtime: Runtime, ref: provisioning.JobRef, transport=None) -> tuple[float, object]:
    began = time.perf_counter()
    result = provisioning.run_cycle(runtime, ref, transport=transport)
    elapsed = time.perf_counter() - began
    with runtime.unit(ref.tenant_id) as ctx:
        error = jobs.get_job(ctx, synchronization.resolve_owner(ctx, "servicePrincipals", ref.owner_id),
                             ref.job_id)["status"]["lastExecution"]["error"]
    if error:
        raise RuntimeError(f"cycle failed: {error}")
    return elapsed, result


@contextlib.contextmanager
def serve(command: list[str], probe: str):
    """A SCIM server in its own process, for the duration of the block."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                httpx.get(probe, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait()


def scim2_server(port: int):
    return serve([str(Path(sys.executable).with_name("scim2-server")), "--port", str(port), "--bearer-token", "t"],
                 f"http://127.0.0.1:{port}/ServiceProviderConfig")


def fast_target_process(port: int):
    code = ("import uvicorn; from graphsync.testing import InMemoryScimTarget; "
            f"uvicorn.run(InMemoryScimTarget(), host='127.0.0.1', port={port}, log_level='warning')")
    return serve([sys.executable, "-c", code], f"http://127.0.0.1:{port}/ServiceProviderConfig")


def bare_client(base: str, token: str, n: int, tag: str, concurrency: int, groups: int = 0) -> float:
    """POST the bodies the engine would send for the same users, with the retries it gets; with
    ``groups``, also create that many groups and PATCH 10 members into each (the engine's work);
    returns objects/s."""
    schema = applications.builtin.builtin_template("scim")["schema"]
    from graphsync import expressions
    from graphsync.engine.mapping import evaluate
    from graphsync.engine.source_view import user_attributes
    rule = next(r for r in compile_schema(schema) if not r.group)
    context = expressions.EvaluationContext(default_domain="contoso.test")
    bodies = [build_resource(evaluate(rule, user_attributes(dict(user_body(i, tag), id=f"x{i}"), soft_deleted=False,
                                                            manager_id=None), context, creating=True).values,
                             group=False) for i in range(n)]

    async def post_all() -> float:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=concurrency),
                                         headers=headers) as client:
            async def send(method: str, path: str, body: dict) -> dict:
                for _ in range(5):
                    try:
                        async with client.request(method, path, data=codec.dumps_bytes(body)) as response:
                            content = await response.read()
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.05)
                        continue
                    if response.status in (200, 201, 204, 409):
                        return codec.loads(content) if response.status in (200, 201) else {}
                    raise RuntimeError(f"{method} {path} answered {response.status}")
                raise RuntimeError(f"{method} {path} kept failing")

            async def run_all(jobs: list) -> list:
                results: list = [None] * len(jobs)
                queue = list(enumerate(jobs))

                async def worker():
                    while queue:
                        index, (method, path, body) = queue.pop()
                        results[index] = await send(method, path, body)
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return results

            began = time.perf_counter()
            created = await run_all([("POST", "/Users", body) for body in bodies])
            if groups:
                ids = [c.get("id") for c in created]
                new_groups = await run_all([("POST", "/Groups", {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"Group {g} {tag}",
                    "externalId": f"g{g}{tag}"}) for g in range(groups)])
                per_group = max(1, n // groups)
                await run_all([("PATCH", f"/Groups/{group['id']}", {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [
                        {"value": i} for i in ids[g * per_group:(g + 1) * per_group][:10] if i]}]})
                    for g, group in enumerate(new_groups)])
            return (n + groups) / (time.perf_counter() - began)

    return asyncio.run(post_all())


def against_scim2_server(runtime: Runtime, tenant: str, users_only_tenant: str, n: int, rounds: int) -> None:
    """Like for like, at each concurrency on a fresh scim2-server: the engine provisioning N users
    next to the bare client POSTing the same users, and the engine provisioning N users and N/10
    groups (with members) next to the bare client doing that same work. With several rounds the
    runs alternate and the best of each is kept: on a shared machine one run's rate moves ±15 %."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rates: dict[str, dict[int, float]] = {"engine users": {}, "bare users": {}, "engine all": {}, "bare all": {}}

    def keep(kind: str, concurrency: int, rate: float) -> float:
        values = rates.setdefault(kind, {})
        values[concurrency] = max(rate, values.get(concurrency, 0.0))
        return rate

    def engine(kind: str, in_tenant: str, concurrency: int, bulk: int = 0) -> float:
        with scim2_server(port):
            elapsed, result = timed_cycle(runtime, new_job(runtime, in_tenant, base, "t", bulk=bulk,
                                                           concurrency=concurrency))
        return keep(kind, concurrency, result.imported / elapsed)

    def bare(kind: str, tag: str, concurrency: int, groups: int = 0) -> float:
        with scim2_server(port):
            return keep(kind, concurrency, bare_client(base, "t", n, tag, concurrency, groups=groups))

    for round_ in range(rounds):
        for concurrency in CONCURRENCIES:
            runs = [engine("engine users", users_only_tenant, concurrency), bare("bare users", "u", concurrency),
                    engine("engine all", tenant, concurrency), bare("bare all", "a", concurrency, n // 10)]
            print(f"    round {round_ + 1}, concurrency {concurrency:2}: " + ", ".join(
                f"{kind} {rate:.0f}/s" for kind, rate in zip(rates, runs)))
    best = {kind: max(values.values()) for kind, values in rates.items()}
    print(f"(1) initial cycle → scim2-server, best concurrency of each: {n} users: engine {best['engine users']:.0f} "
          f"objects/s, bare aiohttp POST /Users {best['bare users']:.0f}/s, ratio "
          f"{best['engine users'] / best['bare users']:.2f}; {n} users + {n // 10} groups with members: engine "
          f"{best['engine all']:.0f} objects/s, bare aiohttp doing the same {best['bare all']:.0f} objects/s, ratio "
          f"{best['engine all'] / best['bare all']:.2f}")
    fastest = max(rates["engine all"], key=rates["engine all"].get)
    with_bulk = engine("engine all /Bulk", tenant, fastest, bulk=100)
    print(f"(1b) users + groups with /Bulk creates (100 per request, concurrency {fastest}): {with_bulk:.0f} "
          f"objects/s; ratio to the bare client doing the same {with_bulk / best['bare all']:.2f}")


def incremental(runtime: Runtime, tenant: str, ref, ids: list[str]) -> float:
    with runtime.unit(tenant) as ctx:
        for user_id in ids[:1000]:
            directory.update_user(ctx, user_id, {"jobTitle": "Senior Engineer"})
    elapsed, result = timed_cycle(runtime, ref)
    assert result.exported >= 1000, result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000, help="size of the large directory for (3)")
    parser.add_argument("--skip-scim2", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs per side against scim2-server")
    parser.add_argument("--only-scim2", action="store_true", help="stop after (1)")
    args = parser.parse_args()
    n, groups = args.users, args.users // 10
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=Path(tmp), engine=False)).start()
        freeze_startup_heap()  # as graphsync serve and graphsync worker do once they are set up
        tenant = runtime.new_tenant_with_admin("bench")["tenantId"]
        began = time.perf_counter()
        ids = seed(runtime, tenant, n, groups, "a")
        print(f"seeded {n} users and {groups} groups in {time.perf_counter() - began:.1f} s")

        if not args.skip_scim2:
            users_only = runtime.new_tenant_with_admin("bench-users")["tenantId"]
            seed(runtime, users_only, n, 0, "u")
            against_scim2_server(runtime, tenant, users_only, n, args.rounds)
            if args.only_scim2:
                runtime.close()
                return

        for bulk in (0, 100):
            target = FastScim()
            ref = new_job(runtime, tenant, "http://fast-scim.local", None, bulk=bulk)
            elapsed, result = timed_cycle(runtime, ref, transport=target.transport())
            print(f"(2{'b' if bulk else ''}) initial cycle → in-process SCIM target{' with /Bulk creates' * bool(bulk)}: "
                  f"{result.imported} objects in {elapsed:.1f} s = {result.imported / elapsed:.0f} objects/s "
                  f"({target.calls} SCIM calls)")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with fast_target_process(port):
            ref = new_job(runtime, tenant, base, None, bulk=100)
            timed_cycle(runtime, ref)
            small = incremental(runtime, tenant, ref, ids)
            print(f"(3) incremental cycle, 1,000 changes, {n}-user directory: {small:.2f} s")
        if args.large:
            big_tenant = runtime.new_tenant_with_admin("bench-large")["tenantId"]
            began = time.perf_counter()
            big_ids = seed(runtime, big_tenant, args.large, 0, "l")
            print(f"    seeded {args.large} users in {time.perf_counter() - began:.1f} s")
            with fast_target_process(port):
                big_ref = new_job(runtime, big_tenant, base, None, bulk=100)
                with PeakRss() as rss:
                    elapsed, result = timed_cycle(runtime, big_ref)
                print(f"    initial cycle of {result.imported} objects (fast target in its own process, /Bulk "
                      f"creates): {elapsed:.1f} s = {result.imported / elapsed:.0f} objects/s; "
                      f"engine process peak RSS {rss.peak:.0f} MiB")
                large = incremental(runtime, big_tenant, big_ref, big_ids)
            print(f"(3) incremental cycle, 1,000 changes, {args.large}-user directory: {large:.2f} s "
                  f"(ratio to the small directory {large / small:.2f})")
        print(f"peak RSS of this process over the whole run (seeding and in-process targets included): "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        runtime.close()


if __name__ == "__main__":
    main()
