"""Provisioning cycle throughput.

(1) initial cycle to scim2-server, next to a bare httpx client POSTing the same users at its best
    concurrency (same process, same target kind);
(2) initial cycle to an in-process SCIM target (engine-bound);
(3) an incremental cycle of 1,000 changes in a small and a large directory (cost should follow
    the changes, not the directory size), with peak RSS.

    python bench/initial_cycle.py [--users 10000] [--large 100000] [--skip-scim2]
"""
from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from graphsync.config import Settings  # noqa: E402
from graphsync.engine.mapping import compile_schema  # noqa: E402
from graphsync.engine.resource import build_resource  # noqa: E402
from graphsync.models import InstantiateBody, JobCreate, SecretPair  # noqa: E402
from graphsync.runtime.runtime import Runtime  # noqa: E402
from graphsync.services import applications, directory, jobs, provisioning, synchronization  # noqa: E402
from graphsync.testing import InMemoryScimTarget as FastScim  # noqa: E402
from graphsync.testing import free_port  # noqa: E402

SCIM_APP = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
DEPARTMENTS = ("Sales", "Retail", "Ops", "R&D", "Finance")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def user_body(i: int, tag: str) -> dict:
    return {"accountEnabled": True, "displayName": f"User {i} Ünïcode", "givenName": f"Given{i}",
            "surname": f"Sur{i}", "userPrincipalName": f"user{i}.{tag}@contoso.test", "mailNickname": f"u{i}{tag}",
            "mail": f"user{i}.{tag}@contoso.test", "jobTitle": "Engineer", "department": DEPARTMENTS[i % 5],
            "employeeId": str(100000 + i), "city": "Oslo", "country": "NO", "mobilePhone": f"+47 {i:08d}",
            "preferredLanguage": "nb-NO"}


def seed(runtime: Runtime, tenant: str, users: int, groups: int, tag: str) -> list[str]:
    ids: list[str] = []
    for start in range(0, users, 2000):
        with runtime.unit(tenant) as ctx:
            for i in range(start, min(users, start + 2000)):
                ids.append(directory.create_user(ctx, user_body(i, tag))["id"])
    per_group = max(1, users // max(groups, 1))
    with runtime.unit(tenant) as ctx:
        for g in range(groups):
            directory.create_group(ctx, {"displayName": f"Group {g} {tag}", "mailEnabled": False,
                                         "securityEnabled": True, "mailNickname": f"g{g}{tag}"},
                                   member_ids=ids[g * per_group:(g + 1) * per_group][:10])
    return ids


def new_job(runtime: Runtime, tenant: str, base_address: str, token: str | None,
            bulk: int = 0) -> provisioning.JobRef:
    with runtime.unit(tenant) as ctx:
        sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="bench"))["servicePrincipal"]
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
        job = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
        pairs = [SecretPair(key="BaseAddress", value=base_address), SecretPair(key="SyncAll", value="true")]
        if token:
            pairs.append(SecretPair(key="SecretToken", value=token))
        synchronization.merge_secrets(ctx, owner, pairs)
        jobs.update_job(ctx, owner, job["id"], jobs.JobUpdate.model_validate(
            {"synchronizationJobSettings": [{"name": "ScimConcurrency", "value": "16"},
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


def bare_client_baseline(runtime: Runtime, tenant: str, base: str, token: str, n: int, tag: str) -> tuple[float, int]:
    """POST the same user bodies the engine would send, at the best of a few concurrencies."""
    schema = applications.builtin.builtin_template("scim")["schema"]
    from graphsync import expressions
    from graphsync.engine.mapping import evaluate
    from graphsync.engine.source_view import user_attributes
    rule = next(r for r in compile_schema(schema) if not r.group)
    context = expressions.EvaluationContext(default_domain="contoso.test")
    best = (0.0, 0)
    for concurrency in (8, 16, 32):
        bodies = []
        for i in range(n):
            doc = dict(user_body(i, f"{tag}c{concurrency}"), id=f"x{i}")
            values = evaluate(rule, user_attributes(doc, soft_deleted=False, manager_id=None), context,
                              creating=True).values
            bodies.append(build_resource(values, group=False))

        async def post_all() -> float:
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/scim+json"}) as client:
                queue = list(bodies)
                began = time.perf_counter()

                async def worker():
                    while queue:
                        body = queue.pop()
                        for attempt in range(5):  # the same transient-error retries the engine gets
                            try:
                                response = await client.post("/Users", json=body)
                            except httpx.TransportError:
                                continue
                            if response.status_code in (201, 409):
                                break
                            response.raise_for_status()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                return n / (time.perf_counter() - began)

        rate = asyncio.run(post_all())
        if rate > best[0]:
            best = (rate, concurrency)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000, help="size of the large directory for (3)")
    parser.add_argument("--skip-scim2", action="store_true")
    args = parser.parse_args()
    n, groups = args.users, args.users // 10
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Settings(data_dir=Path(tmp), engine=False)).start()
        tenant = runtime.new_tenant_with_admin("bench")["tenantId"]
        began = time.perf_counter()
        ids = seed(runtime, tenant, n, groups, "a")
        print(f"seeded {n} users and {groups} groups in {time.perf_counter() - began:.1f} s")

        if not args.skip_scim2:
            port = free_port()
            scim = subprocess.Popen([str(Path(sys.executable).with_name("scim2-server")), "--port", str(port),
                                     "--bearer-token", "t"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                base = f"http://127.0.0.1:{port}"
                for _ in range(200):
                    try:
                        httpx.get(f"{base}/ServiceProviderConfig", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
                ref = new_job(runtime, tenant, base, "t")
                elapsed, result = timed_cycle(runtime, ref)
                engine_rate = result.imported / elapsed
                baseline, concurrency = bare_client_baseline(runtime, tenant, base, "t", n, "b")
                print(f"(1) initial cycle → scim2-server: {result.imported} objects in {elapsed:.1f} s = "
                      f"{engine_rate:.0f} objects/s; bare httpx POST /Users: {baseline:.0f} users/s "
                      f"(concurrency {concurrency}); ratio {engine_rate / baseline:.2f}")
            finally:
                scim.terminate()
            # the same with /Bulk creates, against a fresh scim2-server
            scim = subprocess.Popen([str(Path(sys.executable).with_name("scim2-server")), "--port", str(port),
                                     "--bearer-token", "t"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(200):
                    try:
                        httpx.get(f"{base}/ServiceProviderConfig", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
                bulk_ref = new_job(runtime, tenant, base, "t", bulk=100)
                elapsed, result = timed_cycle(runtime, bulk_ref)
                print(f"(1b) the same with /Bulk creates (100 per request): {result.imported / elapsed:.0f} objects/s; "
                      f"ratio to the bare client {result.imported / elapsed / baseline:.2f}")
            finally:
                scim.terminate()

        target = FastScim()
        ref = new_job(runtime, tenant, "http://fast-scim.local", None)
        elapsed, result = timed_cycle(runtime, ref, transport=target.transport())
        print(f"(2) initial cycle → in-process SCIM target: {result.imported} objects in {elapsed:.1f} s = "
              f"{result.imported / elapsed:.0f} objects/s ({target.calls} SCIM calls)")
        bulk_target = FastScim()
        bulk_ref = new_job(runtime, tenant, "http://fast-scim.local", None, bulk=100)
        elapsed, result = timed_cycle(runtime, bulk_ref, transport=bulk_target.transport())
        print(f"(2b) the same with /Bulk creates: {result.imported / elapsed:.0f} objects/s "
              f"({bulk_target.calls} SCIM calls)")

        small_incremental = incremental(runtime, tenant, ref, ids, target)
        print(f"(3) incremental cycle, 1,000 changes, {n}-user directory: {small_incremental:.2f} s")

        if args.large:
            big_tenant = runtime.new_tenant_with_admin("bench-large")["tenantId"]
            began = time.perf_counter()
            big_ids = seed(runtime, big_tenant, args.large, 0, "l")
            print(f"    seeded {args.large} users in {time.perf_counter() - began:.1f} s")
            big_target = FastScim()
            big_ref = new_job(runtime, big_tenant, "http://fast-scim.local", None)
            elapsed, result = timed_cycle(runtime, big_ref, transport=big_target.transport())
            print(f"    initial cycle of {result.imported} objects: {elapsed:.1f} s = "
                  f"{result.imported / elapsed:.0f} objects/s")
            large_incremental = incremental(runtime, big_tenant, big_ref, big_ids, big_target)
            print(f"(3) incremental cycle, 1,000 changes, {args.large}-user directory: {large_incremental:.2f} s "
                  f"(ratio to the small directory {large_incremental / small_incremental:.2f})")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB")
        runtime.close()


def incremental(runtime: Runtime, tenant: str, ref, ids: list[str], target: FastScim) -> float:
    with runtime.unit(tenant) as ctx:
        for user_id in ids[:1000]:
            directory.update_user(ctx, user_id, {"jobTitle": "Senior Engineer"})
    elapsed, result = timed_cycle(runtime, ref, transport=target.transport())
    assert result.exported >= 1000, result
    return elapsed


if __name__ == "__main__":
    main()
