"""The in-process executor: a background thread that runs due provisioning cycles.

One cycle at a time per process; a job that was asked to run (start, restart) runs at once when
the request reached this process or rang its doorbell (runtime/doorbell.py: the processes sharing
a SQLite file), else at the next poll; then every ``schedule.interval``, on time even when the
poll is longer. Active inbound (API-driven) jobs apply their staged
bulkUpload records between outbound cycles, a couple of seconds of work at a time.

Several processes may run a scheduler on one database (``graphsync serve`` with its engine,
``graphsync worker``s, uvicorn workers): each job's work runs under the job's lease
(services/leases.py), so a job runs in one process at a time and the others skip it that tick.
Stopping ends a running cycle once the objects under way are done and linked (it continues,
without duplicates, in whichever process runs the job next).
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

    def stop(self, timeout: float | None = 30) -> None:
        """Stop after the current page or batch; waits up to ``timeout`` seconds (None: until then)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run_due(self) -> int:
        """Run every due job once (those no other process is running); returns how many cycles ran."""
        ran = 0
        for ref in provisioning.due_jobs(self.runtime, self.runtime.clock.now()):
            if self._stop.is_set():
                break
            if provisioning.run_leased(self.runtime, ref, self._stop.is_set):
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
            self._wake.wait(self._pause())
            self._wake.clear()

    def _pause(self) -> float:
        """Seconds to the next look: the poll interval, or less when a job falls due sooner (so a
        long poll delays no scheduled cycle). A job due already but run elsewhere waits the poll."""
        now = self.runtime.clock.now()
        try:
            soonest = provisioning.next_due(self.runtime, now)
        except Exception:  # the next tick meets (and logs) what is wrong with the database
            return self.poll_seconds
        if soonest is None:
            return self.poll_seconds
        return min(self.poll_seconds, max((soonest - now).total_seconds(), 0.0))
