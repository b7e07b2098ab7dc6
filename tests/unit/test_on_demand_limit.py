"""provisionOnDemand's documented rate limit: 5 requests per 10 seconds per job."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from graphsync.clock import ManualClock
from graphsync.errors import TooManyRequests
from graphsync.services.provisioning import _rate_limit


def test_sixth_request_in_ten_seconds_is_429_with_retry_after():
    clock = ManualClock()
    runtime = SimpleNamespace(clock=clock)
    for _ in range(5):
        _rate_limit(runtime, "tenant/job-a")
        clock.advance(timedelta(seconds=1))
    with pytest.raises(TooManyRequests) as refused:
        _rate_limit(runtime, "tenant/job-a")
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    _rate_limit(runtime, "tenant/job-b")  # other jobs have their own budget
    clock.advance(timedelta(seconds=6))  # the oldest request left the window
    _rate_limit(runtime, "tenant/job-a")
