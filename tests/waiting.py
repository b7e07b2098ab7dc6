"""Waiting for asynchronous work (the engine runs in the server's background) without timed
assertions: poll until the check holds, fail with the check's name when it never does."""
from __future__ import annotations

import time
from typing import Any, Callable


def eventually(check: Callable[[], Any], timeout: float = 40, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check}")
        time.sleep(interval)
