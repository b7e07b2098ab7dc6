"""A job's life over weeks, on a virtual clock: accidental-deletion threshold, escrow-threshold
quarantine, quarantine that outlasts four weeks, and recovery by restart."""
from __future__ import annotations

from datetime import timedelta

import pytest

from graphsync.clock import ManualClock
from graphsync.config import Settings
from graphsync.models import InstantiateBody, JobCreate, JobUpdate, RestartBody, SecretPair
from graphsync.runtime.runtime import Runtime
from graphsync.services import applications, directory, jobs, provisioning, synchronization
from graphsync.testing import InMemoryScimTarget

SCIM_APP = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


@pytest.fixture
def world(tmp_path):
    clock = ManualClock()
    runtime = Runtime(Settings(data_dir=tmp_path, database_url="memory", engine=False), clock).start()
    tenant = runtime.new_tenant_with_admin("t")["tenantId"]
    with runtime.unit(tenant) as ctx:
        sp = applications.instantiate(ctx, SCIM_APP, InstantiateBody(display_name="app"))["servicePrincipal"]
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", sp["id"])
        job = jobs.create_job(ctx, owner, JobCreate(template_id="scim"))
        synchronization.merge_secrets(ctx, owner, [SecretPair(key="BaseAddress", value="http://scim.test"),
                                                   SecretPair(key="SyncAll", value="true")])
        jobs.start(ctx, owner, job["id"])
        users = [directory.create_user(ctx, {"displayName": f"User {i}", "userPrincipalName": f"u{i}@c.test",
                                             "accountEnabled": True})["id"] for i in range(8)]
    ref = provisioning.JobRef(tenant, sp["id"], job["id"])

    class World:
        pass
    w = World()
    w.runtime, w.clock, w.ref, w.users, w.owner, w.target = runtime, clock, ref, users, owner, InMemoryScimTarget()

    def cycle():
        provisioning.run_cycle(runtime, ref, transport=w.target.transport())
        with runtime.unit(tenant) as ctx:
            return jobs.get_job(ctx, owner, ref.job_id)

    def act(fn, *args):
        with runtime.unit(tenant) as ctx:
            return fn(ctx, *args)
    w.cycle, w.act = cycle, act
    yield w
    runtime.close()


def test_too_many_deletes_are_held_and_the_job_quarantined_until_force_deletes(world):
    world.act(lambda ctx: jobs.update_job(ctx, world.owner, world.ref.job_id, JobUpdate.model_validate(
        {"synchronizationJobSettings": [{"name": "QuarantineTooManyDeletesThreshold", "value": "3"}]})))
    job = world.cycle()
    assert job["status"]["code"] == "Active" and len(world.target.resources["Users"]) == 8
    for user_id in world.users[:5]:
        world.act(directory.delete_user, user_id)  # soft delete → disable in the target
    world.clock.advance(timedelta(hours=1))
    job = world.cycle()
    assert job["status"]["code"] == "Quarantine"
    assert job["status"]["quarantine"]["reason"] == "TooManyDeletes"
    assert all(u.get("active", True) is not False for u in world.target.resources["Users"].values())
    logs = world.act(lambda ctx: provisioning.audit.list_logs(ctx, "provisioningAction eq 'stagedDelete'", 0, 50))
    assert logs.total == 5
    # restarting with ForceDeletes processes them
    world.act(jobs.restart, world.owner, world.ref.job_id, RestartBody.model_validate(
        {"criteria": {"resetScope": "ForceDeletes, QuarantineState"}}))
    world.clock.advance(timedelta(hours=1))
    job = world.cycle()
    assert job["status"]["code"] == "Active", job["status"]
    disabled = [u for u in world.target.resources["Users"].values() if u.get("active") is False]
    assert len(disabled) == 5


def test_escrow_threshold_quarantines(world, monkeypatch):
    monkeypatch.setattr(provisioning, "ESCROW_EVALUATION_START", 3)  # Entra's 5,000, scaled down
    world.target.fail = lambda method, kind, body: 500 if method == "POST" and kind == "Users" else None
    job = world.cycle()
    assert job["status"]["code"] == "Quarantine"
    assert job["status"]["quarantine"]["reason"] == "EncounteredEscrowProportionThreshold"
    assert job["status"]["lastExecution"]["countEscrowed"] == 8
    # the next cycle is at most daily while quarantined
    state = world.act(lambda ctx: jobs._row(ctx, world.owner, world.ref.job_id).state)
    assert state["nextRunAt"] >= (world.clock.now() + timedelta(days=1)).isoformat()[:16]


def test_quarantine_longer_than_four_weeks_disables_the_job(world):
    world.act(synchronization.merge_secrets, world.owner, [SecretPair(key="SecretToken", value="wrong")])
    world.target.token = "right"
    job = world.cycle()
    assert job["status"]["code"] == "Quarantine"
    assert job["status"]["quarantine"]["reason"] == "EncounteredQuarantineException"
    for _ in range(29):
        world.clock.advance(timedelta(days=1))
        job = world.cycle()
    assert job["schedule"]["state"] == "Disabled"
    assert job["status"]["quarantine"]["seriesCount"] >= 28
    # start clears the quarantine; with the right credentials the job provisions again
    world.act(synchronization.merge_secrets, world.owner, [SecretPair(key="SecretToken", value="right")])
    world.act(jobs.start, world.owner, world.ref.job_id)
    job = world.cycle()
    assert job["status"]["code"] == "Active" and len(world.target.resources["Users"]) == 8


def test_a_job_quarantined_by_its_first_cycle_waits_a_day_for_the_next(world):
    """A job whose very first cycle never succeeded has no watermark; it must still wait out its
    quarantine instead of running at every scheduler poll."""
    world.act(synchronization.merge_secrets, world.owner, [SecretPair(key="SecretToken", value="wrong")])
    world.target.token = "right"
    assert provisioning.due_jobs(world.runtime, world.clock.now()) == [world.ref]
    job = world.cycle()
    assert job["status"]["code"] == "Quarantine"
    world.clock.advance(timedelta(hours=23))
    assert provisioning.due_jobs(world.runtime, world.clock.now()) == []
    world.clock.advance(timedelta(hours=1, minutes=1))
    assert provisioning.due_jobs(world.runtime, world.clock.now()) == [world.ref]


def test_a_schema_change_makes_the_next_cycle_an_initial_one(world):
    from graphsync.models import SynchronizationSchema
    first = world.cycle()
    assert first["status"]["lastExecution"]["countImported"] == 8
    world.clock.advance(timedelta(minutes=41))
    quiet = world.cycle()
    assert quiet["status"]["lastExecution"]["countImported"] == 0  # incremental: nothing changed
    schema = world.act(jobs.get_job_schema, world.owner, world.ref.job_id)
    world.act(jobs.put_job_schema, world.owner, world.ref.job_id, SynchronizationSchema.model_validate(schema))
    world.clock.advance(timedelta(minutes=41))
    again = world.cycle()
    assert again["status"]["lastExecution"]["countImported"] == 8  # every object re-evaluated
    assert len(world.target.resources["Users"]) == 8  # and matched to its link, not duplicated


def test_validate_credentials_reports_what_failed(world):
    import asyncio

    from graphsync.errors import BadRequest
    with pytest.raises(BadRequest) as refused:
        asyncio.run(jobs.check_credentials({"BaseAddress": "http://127.0.0.1:9/scim", "SecretToken": "x"}))
    assert refused.value.code == "CredentialsValidationFailed" and "not reachable" in refused.value.message


def test_a_cycle_writes_its_progress_at_most_once_a_second_and_ends_with_the_totals(world):
    """Progress counts the job's links (a query that grows with the directory), so a running cycle
    writes it after its first page and then at most once a second; the end of the cycle writes the
    final figures."""
    now = [0.0]
    written: list[tuple[int, int]] = []
    update = provisioning._at_most_every(1.0, lambda done, total: written.append((done, total)),
                                         clock=lambda: now[0])
    for done, at in ((200, 0.0), (400, 0.4), (600, 0.9), (800, 1.0), (1000, 1.5), (1200, 2.1)):
        now[0] = at
        update(done, 1200)
    assert written == [(200, 1200), (800, 1200), (1200, 1200)]

    with world.runtime.unit(world.ref.tenant_id) as ctx:
        for i in range(8, 450):
            directory.create_user(ctx, {"displayName": f"User {i}", "userPrincipalName": f"u{i}@c.test",
                                        "accountEnabled": True})
    done = world.cycle()["status"]
    assert done["progress"][0]["completedUnits"] == done["progress"][0]["totalUnits"] == 450
    assert done["synchronizedEntryCountByType"] == [{"key": "user to User", "value": 450}]
