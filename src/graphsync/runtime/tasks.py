"""On PostgreSQL the engine's work runs through procrastinate, a task queue kept in PostgreSQL
itself (no broker to run): its workers are woken by LISTEN/NOTIFY the moment a task is deferred,
take tasks with ``SELECT … FOR UPDATE SKIP LOCKED``, run tasks that share a lock one at a time,
and hold deferred tasks until their time.

One task, ``graphsync.run_job``, means "look at this job now": it runs an outbound cycle, or
applies an inbound job's staged records, if the job is due (``sync_jobs.due_at``, services/due.py)
and its lease is free. It is deferred

* by the API, after start, restart or a bulkUpload commits (a worker starts within milliseconds);
* by the task itself when it ends: at the job's next due time (its next cycle), or at once when
  records are left;
* by ``graphsync.reconcile`` every 10 seconds, for any job that is due but was not woken (a
  process that died between its commit and its defer, or stopped in the middle of a job; jobs due
  before procrastinate ran here).

The job's truth stays in ``sync_jobs`` (due_at, its lease, its state): a task is only a wake-up.
Duplicates are harmless (a job not due, or leased elsewhere, is left alone) and kept few by
queueing locks: one waiting "now" task and one waiting "next" task per job. Procrastinate's own
task locks are not used: the job's lease is what keeps two processes from running it at once, and
unlike a task lock it expires when its holder stops answering.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.worker import Worker
from sqlalchemy import Connection, select

from graphsync.services import buckets, due, inbound, leases, provisioning
from graphsync.store.db import aware
from graphsync.store.tables import sync_jobs

log = logging.getLogger("graphsync.tasks")
# procrastinate says every task's start and end at INFO; graphsync's own line per cycle says more
logging.getLogger("procrastinate").setLevel(logging.WARNING)

QUEUE = "graphsync"
RUN_JOB = "graphsync.run_job"
RUN_BUCKET = "graphsync.run_bucket"
RECONCILE = "graphsync.reconcile"
INBOUND_BUDGET_SECONDS = 2.0  # an inbound task applies records this long, then makes way for others
RECONCILE_CRON = "* * * * * */10"  # every 10 s (croniter's sixth field: seconds)
RESTART_FIRST_SECONDS, RESTART_MAX_SECONDS = 1.0, 30.0  # a failed worker starts again after 1 s, 2 s … 30 s
FETCH_SECONDS = 1.0  # besides NOTIFY, how often a worker looks for tasks whose time has come


def conninfo(database_url: str) -> str:
    """A libpq connection string from graphsync's PostgreSQL URL."""
    return "postgresql://" + database_url.split("://", 1)[1]


def ensure_schema(connection: Connection) -> None:
    """Create procrastinate's tables and functions once (inside the start-up transaction, which
    holds the start-up lock: processes starting together do it one after the other)."""
    if connection.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is None:
        # straight to psycopg without parameters: the schema's '%' are not placeholders
        connection.connection.dbapi_connection.execute(procrastinate.schema.SchemaManager.get_schema())


def _lock(tenant_id: str, job_id: str) -> str:
    return f"graphsync:{tenant_id}/{job_id}"


class TaskQueue:
    """The deferring side, for any process on PostgreSQL (an API process with no engine too)."""

    def __init__(self, database_url: str):
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4))
        self._opened = False
        self._open_lock = threading.Lock()

    def _open(self) -> None:
        if not self._opened:
            with self._open_lock:
                if not self._opened:
                    self.app.open()
                    self._opened = True

    def _deferrer(self, tenant_id: str, job_id: str, *, at: datetime | None):
        self._open()
        suffix = "next" if at is not None else "now"
        # no procrastinate lock: a task of a worker that was paused (SIGSTOP) stays 'doing' and
        # would hold its job's tasks back for good; the job's lease excludes, and expires
        return self.app.configure_task(RUN_JOB, queue=QUEUE, queueing_lock=f"{_lock(tenant_id, job_id)}:{suffix}",
                                       schedule_at=at)

    def wake(self, tenant_id: str, owner_id: str, job_id: str, *, at: datetime | None = None) -> None:
        """Defer a look at the job, now or ``at``; a look already waiting makes this one needless."""
        try:
            self._deferrer(tenant_id, job_id, at=at).defer(tenant_id=tenant_id, owner_id=owner_id, job_id=job_id)
        except AlreadyEnqueued:
            pass

    def run_bucket(self, tenant_id: str, owner_id: str, job_id: str, bucket: int) -> None:
        """Defer one bucket of a job's bucketed initial cycle (services/buckets.py)."""
        self._open()
        try:
            self.app.configure_task(RUN_BUCKET, queue=QUEUE, queueing_lock=f"{_lock(tenant_id, job_id)}:b{bucket}") \
                .defer(tenant_id=tenant_id, owner_id=owner_id, job_id=job_id, bucket=bucket)
        except AlreadyEnqueued:
            pass

    def close(self) -> None:
        if self._opened:
            self.app.close()
            self._opened = False


class TaskEngine:
    """The executing side: a procrastinate worker in a thread of its own (its own event loop),
    running ``concurrency`` tasks at a time, each in a thread. Same interface as the poll-based
    ``Scheduler`` (start, wake, stop, running)."""

    def __init__(self, runtime, concurrency: int = 4):
        self.runtime = runtime
        self.queue: TaskQueue = runtime.task_queue
        self.concurrency = concurrency
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._worker = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="graphsync-tasks", daemon=True)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(runtime.settings.resolved_database_url), min_size=1,
            max_size=max(2, concurrency + 1)))
        self.app.task(name=RUN_JOB, queue=QUEUE, pass_context=False)(self._run_job)
        self.app.task(name=RUN_BUCKET, queue=QUEUE, pass_context=False)(self._run_bucket)
        self.app.periodic(cron=RECONCILE_CRON, periodic_id="reconcile")(
            self.app.task(name=RECONCILE, queue=QUEUE, pass_context=False,
                          queueing_lock=RECONCILE)(self._reconcile))

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> TaskEngine:
        self._thread.start()
        self._started.wait(30)
        self._reconcile(0)  # whatever was due before this worker started
        return self

    def wake(self, ref=None) -> None:
        if ref is not None:
            self.queue.wake(ref.tenant_id, ref.owner_id, ref.job_id)

    def stop(self, timeout: float | None = 30) -> None:
        """Stop taking tasks; those under way finish their page or batch (they ask ``stopping``)."""
        self._stopping.set()
        loop, worker = self._loop, self._worker
        if worker is not None and loop is not None:
            try:
                loop.call_soon_threadsafe(worker.stop)
            except RuntimeError:  # its loop has just ended (the worker is being restarted)
                pass
        self._thread.join(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        """The worker, started again after it fails (its connections terminated, the database
        restarting), with back-off; whatever was due meanwhile is found by the reconcile."""
        delay = RESTART_FIRST_SECONDS
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                asyncio.run(self._serve())
            except Exception:
                log.warning("the task worker stopped on an error; starting it again in %.0f s", delay, exc_info=True)
            self._started.set()
            if time.monotonic() - began > RESTART_MAX_SECONDS:
                delay = RESTART_FIRST_SECONDS  # it had been running well: a new failure starts the back-off over
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RESTART_MAX_SECONDS)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with self.app.open_async():
            self._worker = Worker(app=self.app, queues=[QUEUE], concurrency=self.concurrency, wait=True,
                                  install_signal_handlers=False, fetch_job_polling_interval=FETCH_SECONDS,
                                  name=f"graphsync-{id(self):x}", delete_jobs="successful")
            self._started.set()
            if not self._stopping.is_set():
                await self._worker.run()

    # -- tasks ---------------------------------------------------------------------------------
    def _run_job(self, tenant_id: str, owner_id: str, job_id: str) -> None:
        """Look at one job: run it if it is due and free, then defer the next look."""
        ref = provisioning.JobRef(tenant_id, owner_id, job_id)
        template = self._template(ref)
        if template is None or self._stopping.is_set():
            return
        ran = False
        if due.is_outbound(template):
            ran = self._outbound(ref)
            if ran is None:
                return  # its buckets run; the last one through wakes the job for the finish
        elif due.is_inbound(template):
            more = inbound.process_leased(self.runtime, inbound.JobRef(tenant_id, owner_id, job_id),
                                          _deadline(INBOUND_BUDGET_SECONDS), self._stopping.is_set)
            inbound.maybe_purge(self.runtime)
            if more:
                self.queue.wake(tenant_id, owner_id, job_id)
            ran = more is not None
        if not self._stopping.is_set():
            self._next_look(ref, ran)

    def _outbound(self, ref) -> bool | None:
        """Run the job's cycle, hand a large initial one to buckets (None), or see that every
        unfinished bucket of one under way has a task (None)."""
        left = buckets.unfinished(self.runtime, ref)
        if left:
            for bucket in left:
                self.queue.run_bucket(ref.tenant_id, ref.owner_id, ref.job_id, bucket)
            return None
        split: list[int] = []

        def plan(lease) -> bool:
            split.extend(buckets.plan(self.runtime, ref, lease))
            return bool(split)
        ran = provisioning.run_leased(self.runtime, ref, self._stopping.is_set, split=None if left == [] else plan)
        for bucket in split:
            self.queue.run_bucket(ref.tenant_id, ref.owner_id, ref.job_id, bucket)
        return None if split else ran

    def _run_bucket(self, tenant_id: str, owner_id: str, job_id: str, bucket: int) -> None:
        ref = provisioning.JobRef(tenant_id, owner_id, job_id)
        if self._stopping.is_set():
            return
        if buckets.run(self.runtime, ref, bucket, self._stopping.is_set):  # the last one through
            self.queue.wake(tenant_id, owner_id, job_id)

    def _next_look(self, ref, ran: bool) -> None:
        """Defer the job's next look: at its due time; at once if it is still due after it ran
        here; or, when it is due but leased elsewhere, when that lease expires (its holder may
        have died or stopped; if it is alive, it renews the lease and defers its own next look)."""
        with self.runtime.db.reading() as conn:
            at = conn.execute(select(sync_jobs.c.due_at).where(
                sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
                sync_jobs.c.id == ref.job_id)).scalar()
        if at is None:
            return
        at, now = aware(at), self.runtime.clock.now()
        if at <= now and not ran:
            at = leases.expires_at(self.runtime, ref.tenant_id, ref.job_id) or now
        if at > now:
            self.queue.wake(ref.tenant_id, ref.owner_id, ref.job_id, at=at)
        else:
            self.queue.wake(ref.tenant_id, ref.owner_id, ref.job_id)

    def _reconcile(self, timestamp: int) -> None:
        """Wake every job that is due now (index probes only; queueing locks drop duplicates)."""
        now = self.runtime.clock.now()
        for ref in provisioning.due_jobs(self.runtime, now) + inbound.inbound_jobs(self.runtime):
            self.queue.wake(ref.tenant_id, ref.owner_id, ref.job_id)

    def _template(self, ref) -> str | None:
        with self.runtime.db.reading() as conn:
            return conn.execute(select(sync_jobs.c.template_id).where(
                sync_jobs.c.tenant_id == ref.tenant_id, sync_jobs.c.owner_id == ref.owner_id,
                sync_jobs.c.id == ref.job_id)).scalar()


def _deadline(seconds: float) -> float:
    return time.monotonic() + seconds
