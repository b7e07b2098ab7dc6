"""One poisoned inbound record, or one inbound job whose failure cannot even be recorded, stops no
other job in any tenant, and is not tried again at every tick for ever.

Found by fuzzing (on an older version): a bulkUpload record holding a lone UTF-16 surrogate was
accepted; its batch failed, the record was isolated, and saving the record's failure raised
again. The exception left the scheduler's tick, and so did it at every tick after (the next one
met the same record first): "scheduler tick failed" every 3 s, and no API-driven inbound job of
any tenant applied a record any more.

The API refuses such input now (400), and no real part of graphsync can be made to fail that way
on demand any more, so these tests inject the fault (a monkeypatch, on purpose):
``services.inbound._save`` — what saves records' outcomes, their provisioning log entries and
failed status — raises whenever it is handed the poisoned record (known by its externalId): in
its batch, alone, and as that record's failure. The second test also makes giving a record up
(``services.inbound._give_up``) raise for a while: then not even the job's failure can be
recorded.
"""
from __future__ import annotations

import logging
import time
from typing import Iterator

import httpx
import pytest
from sqlalchemy import select

from graphsync.services import inbound
from graphsync.store.inbound_tables import inbound_records
from tests.api.test_bulk_upload import Inbound, sample_record
from tests.conftest import bearer_client
from tests.waiting import eventually


@pytest.fixture
def two_tenants(server) -> Iterator[list[httpx.Client]]:
    """Clients of two new tenants: the poisoned job's and another's."""
    clients = [bearer_client(server, server.new_tenant(f"poison {i}")["accessToken"]) for i in range(2)]
    yield clients
    for client in clients:
        client.close()


def escaping_ticks(monkeypatch) -> list[BaseException]:
    """What leaves ``process_due`` (the polling scheduler's inbound work in a tick); none should.
    (On PostgreSQL each job runs in a procrastinate task of its own: ``process_due`` is not used.)"""
    escaped: list[BaseException] = []
    real = inbound.process_due

    def process_due(*args, **kwargs):
        try:
            return real(*args, **kwargs)
        except BaseException as exc:
            escaped.append(exc)
            raise
    monkeypatch.setattr(inbound, "process_due", process_due)
    return escaped


def poison(monkeypatch, external_id: str) -> list[float]:
    """Fault injection: saving the outcome of the record ``external_id`` raises (see the module's
    docstring). Returns when it did."""
    raised: list[float] = []
    real = inbound._save

    def save(ctx, run, ref, records):
        if any(record.external_id == external_id for record in records):
            raised.append(time.monotonic())
            raise RuntimeError(f"injected: the outcome of {external_id} cannot be saved")
        return real(ctx, run, ref, records)
    monkeypatch.setattr(inbound, "_save", save)
    return raised


def workers(job: Inbound, *names: str) -> list[dict]:
    return [sample_record(f"{i}{job.tag}", f"{name}.{job.tag}@example.com", name.title(), name.title(), "Guide", None)
            for i, name in enumerate(names)]


def stored(server, job: Inbound, external_id: str):
    """The staged record of ``external_id`` (its status and error)."""
    with server.runtime.db.reading() as conn:
        rows = conn.execute(select(inbound_records.c.status, inbound_records.c.error, inbound_records.c.data)
                            .where(inbound_records.c.job_id == job.job_id)).all()
    return next(row for row in rows if row.data["externalId"] == external_id)


def poisoned_and_other(two_tenants, monkeypatch, caplog):
    """Ticks that would escape recorded, an inbound job in each tenant, the first one's records
    first/bad/last with the bad one's outcome unsavable (``poison``)."""
    caplog.set_level(logging.ERROR, logger="graphsync.inbound")
    escaped = escaping_ticks(monkeypatch)
    poisoned, other = Inbound(two_tenants[0]), Inbound(two_tenants[1])
    records = workers(poisoned, "first", "bad", "last")
    return escaped, poisoned, other, records, poison(monkeypatch, records[1]["externalId"])


def test_a_record_whose_failure_cannot_be_saved_is_given_up_and_no_other_job_waits(server, two_tenants,
                                                                                    monkeypatch, caplog):
    escaped, poisoned, other, (first, bad, last), raised = poisoned_and_other(two_tenants, monkeypatch, caplog)
    poisoned.accepted(first, bad, last)
    poisoned.start()
    theirs = workers(other, "ann", "bob", "cyd")
    other.start().accepted(*theirs)

    for record in theirs:  # the other tenant's job applies every record of its own
        assert eventually(lambda: other.user(record["externalId"]))["displayName"] == record["displayName"]
    # the poisoned job gives the bad record up and goes on past it: the records after it are applied
    assert eventually(lambda: poisoned.user(last["externalId"]))["displayName"] == "Last"
    assert poisoned.user(first["externalId"])["displayName"] == "First"
    assert poisoned.user(bad["externalId"]) is None
    assert raised, "the injected fault was never met"

    # the bad record is failed with a short error naming the exceptions' classes (none of its data)
    row = stored(server, poisoned, bad["externalId"])
    assert row.status == "failed"
    assert row.error.startswith("InternalError: ") and "RuntimeError" in row.error
    assert bad["externalId"] not in row.error and "injected" not in row.error
    # …counted in the job's run, which ends with entry-level errors
    execution = eventually(lambda: poisoned.status()["lastExecution"])
    assert (execution["countImported"], execution["countEscrowed"], execution["state"]) == (
        3, 1, "EntryLevelErrors")
    assert [e["provisioningAction"] for e in poisoned.logs(sourceIdentity__id=last["externalId"])] == ["create"]
    assert any(poisoned.job_id in r.getMessage() and "given up" in r.getMessage() for r in caplog.records)
    assert not escaped, escaped


def test_a_job_whose_failure_cannot_be_recorded_backs_off_and_no_other_job_waits(server, two_tenants,
                                                                                  monkeypatch, caplog):
    escaped, poisoned, other, (first, bad, last), _ = poisoned_and_other(two_tenants, monkeypatch, caplog)
    refused: list[float] = []  # the times giving the bad record up failed
    blocked = [True]
    real_give_up = inbound._give_up

    def give_up(ctx, ref, seq, attempts, error):
        if blocked[0] and ref.job_id == poisoned.job_id:
            refused.append(time.monotonic())
            raise RuntimeError("injected: the record cannot be given up")
        return real_give_up(ctx, ref, seq, attempts, error)
    monkeypatch.setattr(inbound, "_give_up", give_up)
    tries: list[float] = []  # the times the poisoned job was taken up (by the scheduler or a task)
    real_process_leased = inbound.process_leased

    def process_leased(runtime, ref, *args, **kwargs):
        if ref.job_id == poisoned.job_id:
            tries.append(time.monotonic())
        return real_process_leased(runtime, ref, *args, **kwargs)
    monkeypatch.setattr(inbound, "process_leased", process_leased)

    poisoned.accepted(first, bad, last)
    poisoned.start()
    eventually(lambda: refused)
    theirs = workers(other, "ann", "bob")
    other.start().accepted(*theirs)  # while the poisoned job is failing
    for record in theirs:
        eventually(lambda: other.user(record["externalId"]))
    assert poisoned.user(first["externalId"])  # applied before the bad record
    assert poisoned.user(last["externalId"]) is None  # in order: it waits behind the bad record

    # the job is not tried again at every tick (a poll is 0.2 s here): it backs off
    began = refused[0]
    time.sleep(max(0.0, began + 3.0 - time.monotonic()))
    assert len([t for t in tries if began <= t <= began + 3.0]) <= 2, [round(t - began, 2) for t in tries]
    if server.runtime.task_queue is None:  # the polling scheduler's process_due logged the job and backed off
        assert any(poisoned.job_id in r.getMessage() and "tried again in" in r.getMessage() for r in caplog.records)

    blocked[0] = False  # once the record can be given up, the job goes on past it
    assert eventually(lambda: poisoned.user(last["externalId"]))["displayName"] == "Last"
    assert stored(server, poisoned, bad["externalId"]).status == "failed"
    assert poisoned.user(bad["externalId"]) is None
    assert not escaped, escaped
