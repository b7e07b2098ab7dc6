"""Metrics count what was kept: provisioning log entries are counted once their transaction
commits, so a page that is rolled back (a lost lease's fence, a database error) and done again is
counted once; labels stay within their fixed values whatever they are given."""
from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from graphsync import metrics
from graphsync.config import Settings
from graphsync.runtime.runtime import Runtime
from graphsync.services.engine_store import DatabaseStateStore


def objects(action: str, status: str, direction: str = "outbound") -> float:
    return REGISTRY.get_sample_value("graphsync_objects_total",
                                     {"direction": direction, "action": action, "status": status}) or 0.0


def entry(action: str, status: str) -> dict:
    return {"id": str(uuid.uuid4()), "cycleId": str(uuid.uuid4()), "action": action, "status": status,
            "sourceId": str(uuid.uuid4())}


@pytest.fixture
def store():
    runtime = Runtime(Settings(database_url="memory")).start()
    tenant = runtime.settings.default_tenant_id
    yield DatabaseStateStore(lambda: runtime.unit(tenant), tenant, "job-" + uuid.uuid4().hex)
    runtime.close()


def test_log_entries_of_a_rolled_back_page_are_not_counted(store):
    before = objects("update", "success")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.write_logs([entry("update", "success"), entry("update", "success")])
            raise RuntimeError("the page's transaction fails after its logs were written")
    assert objects("update", "success") == before
    # the page is done again, and committed: counted once
    store.commit(logs=[entry("update", "success"), entry("update", "success")])
    assert objects("update", "success") == before + 2
    store.write_logs([entry("update", "success")])  # on its own, outside any page
    assert objects("update", "success") == before + 3


def test_labels_keep_to_their_fixed_values():
    before = objects("other", "other", "inbound")
    metrics.count_objects("inbound", [("someNewAction", "someNewStatus")])
    assert objects("other", "other", "inbound") == before + 1
    metrics.observe_target("PROPFIND", 0, 0.01)
    metrics.observe_target("GET", 503, 0.02)
    assert REGISTRY.get_sample_value("graphsync_target_request_duration_seconds_count",
                                     {"method": "other", "status_class": "error"}) >= 1
    assert REGISTRY.get_sample_value("graphsync_target_request_duration_seconds_count",
                                     {"method": "GET", "status_class": "5xx"}) >= 1
