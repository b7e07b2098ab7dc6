"""Job leases on real databases (a SQLite file and the local PostgreSQL): two runtimes on one
database — two processes, as far as the database can tell — never run the same job at once; a
lease whose holder stopped renewing it is taken over; a released one is free at once."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from graphsync.clock import ManualClock
from graphsync.config import Settings
from graphsync.engine.inbound import parse_bulk_request
from graphsync.models import InstantiateBody, JobCreate, JobUpdate, SecretPair
from graphsync.runtime.runtime import Runtime
from graphsync.services import applications, audit, directory, inbound, jobs, leases, provisioning, synchronization
from graphsync.store.inbound_tables import inbound_records
from graphsync.testing import InMemoryScimTarget
from tests.conftest import TEST_SECRET_KEY, throwaway_postgres

SCIM_APP = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
API_APP = "557df4cf-766b-4086-85d9-55769b9c02cb"
LEASE = 60.0


@pytest.fixture(scope="module")
def own_postgres_url():
    """A database of its own: the session's is shared with servers whose schedulers (on the system
    clock) would run these tests' jobs too, and hold their leases."""
    with throwaway_postgres("graphsync_leases") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def pair(request, tmp_path):
    """Two runtimes (A and B) on one database, sharing a manual clock; their engines are off."""
    url = request.getfixturevalue("own_postgres_url") if request.param == "postgresql" else ""
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path, database_url=url, secret_key=TEST_SECRET_KEY, engine=False,
                        lease_seconds=LEASE)
    a = Runtime(settings, clock).start()
    b = Runtime(settings, clock).start()
    yield a, b, clock
    a.close()
    b.close()


def test_a_held_lease_is_refused_to_the_other_runtime_until_released(pair):
    a, b, _ = pair
    lease = leases.claim(a, "tenant", "job-1")
    assert lease is not None and leases.holder_of(b, "tenant", "job-1") == lease.holder
    assert leases.claim(b, "tenant", "job-1") is None
    assert leases.claim(a, "tenant", "job-1") is None  # not re-entrant either: one claim, one holder
    assert leases.claim(b, "tenant", "job-2") is not None  # other jobs are free
    lease.release()
    assert not lease.held and leases.holder_of(b, "tenant", "job-1") is None
    assert leases.claim(b, "tenant", "job-1") is not None


def test_a_lease_that_is_renewed_stays_and_an_expired_one_is_taken_over(pair):
    a, b, clock = pair
    lease = leases.claim(a, "tenant", "job")
    clock.advance(timedelta(seconds=LEASE * 0.75))
    assert lease.renew()
    clock.advance(timedelta(seconds=LEASE * 0.75))  # past the first expiry, not the renewed one
    assert leases.claim(b, "tenant", "job") is None
    clock.advance(timedelta(seconds=LEASE * 0.5))  # holder stopped renewing (crashed): expired
    taken = leases.claim(b, "tenant", "job")
    assert taken is not None
    # the old holder finds out at its next renewal and cannot release the new holder's lease
    assert not lease.renew() and not lease.held
    lease.release()
    assert leases.holder_of(a, "tenant", "job") == taken.holder
    assert taken.renew()


def test_racing_claimants_get_one_lease(pair):
    a, b, clock = pair
    for round_ in range(8):
        job = f"race-{round_}"
        if round_ % 2:  # an expired lease to take over (the UPDATE path), else no row (the INSERT path)
            leases.claim(a, "tenant", job)
            clock.advance(timedelta(seconds=LEASE + 1))
        barrier = threading.Barrier(8)
        won: list[leases.Lease] = []

        def contend(runtime) -> None:
            barrier.wait()
            lease = leases.claim(runtime, "tenant", job)
            if lease is not None:
                won.append(lease)

        threads = [threading.Thread(target=contend, args=(a if i % 2 else b,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, won
        assert leases.holder_of(a, "tenant", job) == won[0].holder


# -- the scheduler's work under leases ------------------------------------------------------------

def _outbound_job(runtime, users: int):
    tenant = runtime.new_tenant_with_admin("leases")["tenantId"]
    with runtime.unit(tenant) as ctx:
        sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="app"))["servicePrincipal"]
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
        job = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
        synchronization.merge_secrets(ctx, owner, [SecretPair(key="BaseAddress", value="http://scim.test"),
                                                   SecretPair(key="SyncAll", value="true")])
        jobs.start(ctx, owner, job["id"])
        for i in range(users):
            directory.create_user(ctx, {"displayName": f"User {i}", "userPrincipalName": f"u{i}@c.test",
                                        "accountEnabled": True})
    return provisioning.JobRef(tenant, sp["id"], job["id"]), owner


def _job(runtime, ref, owner) -> dict:
    with runtime.unit(ref.tenant_id) as ctx:
        return jobs.get_job(ctx, owner, ref.job_id)


def test_a_cycle_running_in_one_runtime_is_skipped_by_the_other(pair):
    a, b, clock = pair
    ref, owner = _outbound_job(a, users=5)
    target = InMemoryScimTarget()
    attempts: list[bool] = []

    def meanwhile(method, kind, body):
        if method == "POST" and not attempts:  # A is exporting: B's scheduler looks at the job
            worker = threading.Thread(target=lambda: attempts.append(
                provisioning.run_leased(b, ref, transport=target.transport())))
            worker.start()
            worker.join()
        return None

    target.fail = meanwhile
    assert provisioning.run_leased(a, ref, transport=target.transport())
    assert attempts == [False]  # B skipped the job while A ran it
    assert len(target.resources["Users"]) == 5
    first = _job(a, ref, owner)["status"]["lastExecution"]
    assert first["countExported"] == 5
    # A is done and released the lease; B's list of due jobs (read before) is stale: it runs nothing
    assert not provisioning.run_leased(b, ref, transport=target.transport())
    assert _job(a, ref, owner)["status"]["lastExecution"]["activityIdentifier"] == first["activityIdentifier"]
    # the next scheduled cycle may run in either runtime
    clock.advance(timedelta(minutes=41))
    assert provisioning.run_leased(b, ref, transport=target.transport())
    assert _job(a, ref, owner)["status"]["lastExecution"]["activityIdentifier"] != first["activityIdentifier"]


def test_a_cycle_whose_lease_was_taken_over_stops_within_a_page(pair):
    a, b, clock = pair
    ref, owner = _outbound_job(a, users=1000)  # five pages of 200
    target = InMemoryScimTarget()
    taken: list[leases.Lease] = []

    def stall(method, kind, body):
        if method == "POST" and not taken:  # A looks dead for longer than the lease lives
            clock.advance(timedelta(seconds=LEASE + 1))
            worker = threading.Thread(target=lambda: taken.append(leases.claim(b, ref.tenant_id, ref.job_id)))
            worker.start()
            worker.join()
        return None

    target.fail = stall
    assert provisioning.run_leased(a, ref, transport=target.transport())
    assert taken and taken[0] is not None
    exported = len(target.resources["Users"])
    assert 0 < exported < 200  # A stopped within its first page, though all five were in flight
    job = _job(a, ref, owner)
    assert job["status"]["lastExecution"] is None or job["status"]["lastExecution"].get("activityIdentifier") is None
    assert leases.holder_of(a, ref.tenant_id, ref.job_id) == taken[0].holder
    taken[0].release()
    # the cycle continues, without duplicates, wherever it runs next
    assert provisioning.run_leased(b, ref, transport=target.transport())
    assert len(target.resources["Users"]) == 1000
    assert _job(a, ref, owner)["status"]["lastExecution"]["state"] == "Succeeded"


def _inbound_job(runtime, records: int):
    tenant = runtime.new_tenant_with_admin("leases")["tenantId"]
    with runtime.unit(tenant) as ctx:
        sp = applications.instantiate(ctx, API_APP, InstantiateBody(display_name="HR"))["servicePrincipal"]
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
        job = jobs.create_job(ctx, owner, JobCreate(template_id="API2AAD"))
        if records > 50:  # staged as one request: lift Entra's limit of 50 operations
            jobs.update_job(ctx, owner, job["id"], JobUpdate.model_validate({"synchronizationJobSettings": [
                {"name": "BulkUploadMaxOperations", "value": "0"}]}))
        jobs.start(ctx, owner, job["id"])
        ref = inbound.JobRef(tenant, sp["id"], job["id"])
        if records:
            _stage(ctx, ref, range(records))
    return ref


def _stage(ctx, ref, numbers) -> None:
    """Stage workers E<n> for the numbers given, in the caller's transaction."""
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": str(i), "data": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": f"E{i}",
            "userName": f"w{i}@contoso.test", "displayName": f"Worker {i}", "active": True,
            "name": {"givenName": "W", "familyName": f"{i}"}}} for i in numbers]}
    owner = synchronization.resolve_owner(ctx, "servicePrincipals", ref.owner_id)
    inbound.stage(ctx, owner, ref.job_id, parse_bulk_request(json.dumps(body).encode(), 0))


def _applied(runtime, ref) -> int:
    with runtime.unit(ref.tenant_id) as ctx:
        return audit.list_logs(ctx, f"jobId eq '{ref.job_id}'", 0, 1).total


def test_inbound_records_wait_while_another_runtime_holds_the_job_and_are_taken_over(pair):
    a, b, clock = pair
    ref = _inbound_job(a, records=3)
    lease = leases.claim(a, ref.tenant_id, ref.job_id)  # A is processing the job (or died doing it)
    inbound.process_due(b)
    assert _applied(b, ref) == 0  # B skips it
    clock.advance(timedelta(seconds=LEASE + 1))  # A stopped renewing: crashed
    inbound.process_due(b)
    assert _applied(b, ref) == 3
    assert leases.holder_of(a, ref.tenant_id, ref.job_id) is None  # B released it when done
    assert not lease.renew()


def test_records_staged_while_a_batch_runs_are_never_left_behind_what_the_job_applied(own_postgres_url, tmp_path):
    """PostgreSQL hands out seqs at insert, so two uploads to a job could commit in the other
    order; a batch between the two commits would then move the job's applied_seq past records
    not yet visible to it. Stagers of a job take turns, so the later one waits."""
    settings = Settings(data_dir=tmp_path, database_url=own_postgres_url, secret_key=TEST_SECRET_KEY, engine=False)
    runtime = Runtime(settings, ManualClock()).start()
    try:
        ref = _inbound_job(runtime, records=0)
        first_staged, first_may_commit = threading.Event(), threading.Event()

        def first_upload() -> None:
            with runtime.unit(ref.tenant_id) as ctx:
                _stage(ctx, ref, range(0, 3))
                first_staged.set()
                first_may_commit.wait(30)

        def second_upload() -> None:
            with runtime.unit(ref.tenant_id) as ctx:
                _stage(ctx, ref, range(3, 6))

        first = threading.Thread(target=first_upload)
        first.start()
        assert first_staged.wait(30)
        second = threading.Thread(target=second_upload)
        second.start()
        second.join(timeout=1.0)  # without turns it commits now, its seqs after the first's
        inbound.process_job(runtime, ref)  # a batch while the first upload is still open
        first_may_commit.set()
        first.join()
        second.join()
        inbound.process_job(runtime, ref)
        with runtime.unit(ref.tenant_id) as ctx:
            found = {i for i in range(6) if directory.find_user_by(ctx, "employeeId", f"E{i}")}
        assert found == set(range(6))
    finally:
        runtime.close()


def test_retention_purges_applied_records_and_keeps_those_still_to_apply(pair):
    a, _, clock = pair
    ref = _inbound_job(a, records=3)
    inbound.process_job(a, ref)
    with a.unit(ref.tenant_id) as ctx:
        _stage(ctx, ref, range(3, 5))  # not applied yet
    clock.advance(timedelta(days=a.settings.log_retention_days + 1))
    inbound.purge(a)
    with a.db.transaction() as conn:
        left = conn.execute(select(inbound_records.c.bulk_id).where(
            inbound_records.c.job_id == ref.job_id).order_by(inbound_records.c.seq)).scalars().all()
    assert left == ["3", "4"]
    inbound.process_job(a, ref)
    assert _applied(a, ref) == 2  # the first three's log entries aged out too
    with a.unit(ref.tenant_id) as ctx:
        assert all(directory.find_user_by(ctx, "employeeId", f"E{i}") for i in range(5))


def test_a_tenants_large_backlog_takes_turns_with_other_jobs(pair):
    """Each call of process_due starts one job further along, and a job's turn ends after the
    batch that passes its share of the budget: a 2,500-record upload of one tenant no longer
    keeps another tenant's single record waiting until the whole backlog is applied."""
    a, _, _ = pair
    big = _inbound_job(a, records=2500)
    small = _inbound_job(a, records=1)
    for _ in range(2):  # two turns, each with a budget too small for more than one batch
        assert inbound.process_due(a, budget_seconds=0.001)
    assert _applied(a, small) == 1
    assert 0 < _applied(a, big) < 2500  # the backlog goes on, a batch a turn
    while inbound.process_due(a):
        pass
    assert _applied(a, big) == 2500
