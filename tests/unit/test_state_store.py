"""The engine's state store on PostgreSQL: a page's outcome survives a connection the server
terminated while the page was being saved, from whichever thread saves it."""
from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from graphsync.config import Settings
from graphsync.engine.ports import Link
from graphsync.runtime.runtime import Runtime
from graphsync.services.engine_store import DatabaseStateStore
from tests.conftest import PG_ADMIN_URL, TEST_SECRET_KEY


@pytest.fixture
def runtime(postgres_url):
    runtime = Runtime(Settings(database_url=postgres_url, secret_key=TEST_SECRET_KEY)).start()
    yield runtime
    runtime.close()


def terminating_once() -> tuple[callable, list[int]]:
    """A fence that has PostgreSQL terminate the transaction's own connection the first time
    (a real fault: the server drops the session in the middle of the page's transaction)."""
    terminated: list[int] = []

    def fence(conn) -> None:
        if not terminated:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            terminated.append(pid)
    return fence, terminated


@pytest.mark.parametrize("in_thread", [False, True], ids=["loop-thread", "writer-thread"])
def test_a_page_whose_connection_was_terminated_is_saved_whole_on_the_next_try(runtime, in_thread):
    tenant = runtime.settings.default_tenant_id
    fence, terminated = terminating_once()
    store = DatabaseStateStore(lambda: runtime.unit(tenant), tenant, "job-" + uuid.uuid4().hex, fence=fence)
    links = [Link("user", f"u{i}", f"t{i}", {"userName": f"u{i}"}) for i in range(3)]
    entry = {"id": str(uuid.uuid4()), "cycleId": str(uuid.uuid4()), "action": "create", "status": "success",
             "sourceId": "u0"}

    def save() -> None:
        store.commit(links=links, logs=[entry])

    if in_thread:  # the cycle saves from a writer thread of its own
        failures: list[BaseException] = []
        worker = threading.Thread(target=lambda: _collect(save, failures))
        worker.start()
        worker.join()
        assert not failures, failures
    else:
        save()
    assert terminated, "the fault was never produced"
    saved = store.links("user", ["u0", "u1", "u2"])
    assert {sid: link.target_id for sid, link in saved.items()} == {"u0": "t0", "u1": "t1", "u2": "t2"}


def _collect(call, failures: list[BaseException]) -> None:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
        failures.append(exc)
