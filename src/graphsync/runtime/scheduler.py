"""The in-process executor: a background thread that runs due provisioning cycles.

One cycle at a time per process; a job that was asked to run (start, restart) runs at the next
poll, then every ``schedule.interval``. Active inbound (API-driven) jobs apply their staged
bulkUpload records between outbound cycles, a couple of seconds of work at a time.
"""
from __future__ import annotations

import logging
import threading

from graphsync.services import inbound, provisioning

log = logging.getLogger("graphsync.scheduler")


class Scheduler:
    def __init__(self, runtime, poll_seconds: float = 1.0):
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="graphsync-scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look for due jobs now (after start/restart) instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def run_due(self) -> int:
        """Run every due job once; returns how many cycles ran."""
        ran = 0
        for ref in provisioning.due_jobs(self.runtime, self.runtime.clock.now()):
            if self._stop.is_set():
                break
            provisioning.run_cycle(self.runtime, ref)
            ran += 1
        if inbound.process_due(self.runtime, self._stop.is_set):
            self._wake.set()  # records are left: come back without waiting for the poll
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception:  # keep the executor alive; the failure is logged
                log.exception("scheduler tick failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
