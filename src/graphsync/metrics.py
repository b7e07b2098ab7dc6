"""Prometheus metrics of the provisioning engine and the one structured log line per cycle.

What is counted, and where (each a call from the code that does the work):

* ``graphsync_cycles_total{kind, outcome}`` and ``graphsync_cycle_duration_seconds{kind}``: every
  outbound cycle as it ends (services/provisioning.py ``run_cycle``) and every inbound run over a
  job's backlog once it is recorded (services/inbound.py ``_finish_cycle``);
* ``graphsync_objects_total{direction, action, status}``: one per provisioning log entry, once
  the transaction that wrote the entry has committed (a page or batch rolled back and tried
  again is not counted twice);
* ``graphsync_cycle_escrows_total{kind}``: objects a cycle left failed (escrowed, to be retried;
  for inbound, the failed records);
* ``graphsync_target_request_duration_seconds{method, status_class}``: every request to a SCIM
  target (connectors/scim.py), ``status_class`` ``2xx`` … ``5xx`` or ``error`` (no answer:
  timeout, reset);
* read from the database when scraped (``graphsync serve``'s ``/metrics`` only):
  ``graphsync_queue_depth{direction}`` (jobs due) and ``graphsync_escrowed_objects`` (objects in
  escrow now).

Labels take a few fixed values only: no tenant, job or user ever becomes a label (cardinality,
and a scrape endpoint must not reveal who is provisioned). The per-cycle log line carries the ids
a person needs to find the job, counts and an error *code* — never an error message (it may quote
a target's answer) or an attribute value.

``graphsync serve --workers N`` runs N processes: their counters are shared through
prometheus_client's multiprocess mode (a private directory, ``PROMETHEUS_MULTIPROC_DIR``), so every
scrape answers the sum whichever process takes it.
"""
from __future__ import annotations

import collections
import hmac
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder, make_wsgi_app

log = logging.getLogger("graphsync.engine")

KINDS = ("initial", "incremental", "inbound")
OUTCOMES = ("succeeded", "failed", "interrupted")
DIRECTIONS = ("outbound", "inbound")
ACTIONS = ("create", "update", "disable", "delete", "other", "stagedDelete")  # provisioningAction
STATUSES = ("success", "failure", "skipped")  # provisioningStatusInfo/status
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

CYCLES = Counter("graphsync_cycles", "Provisioning cycles that ended: kind initial, incremental (outbound) or "
                 "inbound (a run over an API-driven job's staged records); outcome succeeded (object-level "
                 "failures included), failed or interrupted (paused, stopped, lease lost)", ["kind", "outcome"])
CYCLE_SECONDS = Histogram("graphsync_cycle_duration_seconds", "Wall time of provisioning cycles that ended",
                          ["kind"], buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600))
OBJECTS = Counter("graphsync_objects", "Objects processed, one per provisioning log entry, by direction, "
                  "provisioningAction and status", ["direction", "action", "status"])
ESCROWS = Counter("graphsync_cycle_escrows", "Objects that failed in a cycle: outbound ones are escrowed (retried "
                  "later), inbound ones are failed records", ["kind"])
TARGET_SECONDS = Histogram("graphsync_target_request_duration_seconds", "Requests to SCIM targets, from sending to "
                           "the end of the answer's body; status_class 'error' = no answer (timeout, reset)",
                           ["method", "status_class"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

for _kind in KINDS:  # every series exists from the start, so rate() and alerts see the first increment
    for _outcome in OUTCOMES:
        CYCLES.labels(_kind, _outcome)
    ESCROWS.labels(_kind)
for _direction in DIRECTIONS:
    for _action in ACTIONS:
        for _status in STATUSES:
            OBJECTS.labels(_direction, _action, _status)

# -- the SCIM connector's hot path ---------------------------------------------------------------

_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_target_children: dict[tuple[str, int], Any] = {}


def observe_target(method: str, status: int, seconds: float) -> None:
    """One request to a SCIM target took ``seconds``; ``status`` 0 = no answer. Called for every
    request: the labelled child is looked up once per (method, class) and kept."""
    key = (method, status // 100)
    child = _target_children.get(key)
    if child is None:
        child = _target_children[key] = TARGET_SECONDS.labels(
            method if method in METHODS else "other", _STATUS_CLASSES.get(key[1], "error"))
    child.observe(seconds)


# -- counted once committed ----------------------------------------------------------------------

_pending = threading.local()


@contextmanager
def after_commit() -> Iterator[None]:
    """Wrap a unit of work: what is counted inside (``count_objects``, an inbound cycle's end) is
    counted when the block ends normally — its transaction committed — and dropped when it raises
    (rolled back; it will be done, and counted, again). Outside such a block counts are immediate."""
    if getattr(_pending, "calls", None) is not None:  # nested: the outermost block decides
        yield
        return
    _pending.calls = []
    try:
        yield
        calls = _pending.calls
    finally:
        _pending.calls = None
    for call in calls:
        call()


def _when_committed(call: Callable[[], None]) -> None:
    calls = getattr(_pending, "calls", None)
    if calls is None:
        call()
    else:
        calls.append(call)


def count_objects(direction: str, outcomes: Iterable[tuple[str, str]]) -> None:
    """Provisioning log entries written: (action, status) each."""
    counts = collections.Counter((action if action in ACTIONS else "other", status if status in STATUSES else "other")
                                 for action, status in outcomes)
    if counts:
        def count() -> None:
            for (action, status), n in counts.items():
                OBJECTS.labels(direction, action, status).inc(n)
        _when_committed(count)


# -- cycles --------------------------------------------------------------------------------------

def _cycle_line(fields: dict[str, Any]) -> None:
    log.info("%s", json.dumps({"event": "cycle", **fields}, separators=(",", ":")))


def _cycle_ended(kind: str, outcome: str, seconds: float, escrowed: int, fields: dict[str, Any]) -> None:
    CYCLES.labels(kind, outcome).inc()
    CYCLE_SECONDS.labels(kind).observe(seconds)
    if escrowed:
        ESCROWS.labels(kind).inc(escrowed)
    _cycle_line({"kind": kind, "outcome": outcome, **fields, "durationMs": round(seconds * 1000)})


class OutboundCycle:
    """An outbound cycle under way (run_cycle): ``end`` counts it and writes its log line, once."""

    def __init__(self, ref, state: dict[str, Any]):
        self.ref = ref
        # the rule run_cycle applies: an initial cycle until one completed (or after a restart)
        self.initial = bool(state.get("initialCyclePending", True)) or "watermark" not in state
        self.started = time.monotonic()
        self.done = False

    def end(self, outcome: str, result=None, error: dict | None = None) -> None:
        if self.done:
            return
        self.done = True
        initial = result.initial if result is not None else self.initial
        _cycle_ended("initial" if initial else "incremental", outcome, time.monotonic() - self.started,
                     result.escrowed if result is not None else 0, {
                         "tenantId": self.ref.tenant_id, "jobId": self.ref.job_id,
                         "cycleId": result.cycle_id if result is not None else None,
                         "imported": result.imported if result is not None else None,
                         "exported": result.exported if result is not None else None,
                         "escrowed": result.escrowed if result is not None else None,
                         "error": (error or {}).get("code")})


def inbound_cycle_ended(ref, cycle: dict[str, Any], ended: datetime) -> None:
    """An inbound job's backlog is applied (``cycle``: its counters in the job's state); counted
    once the transaction that records it commits."""
    began = datetime.fromisoformat(cycle["began"].replace("Z", "+00:00"))
    seconds = max(0.0, (ended - began).total_seconds())
    _when_committed(lambda: _cycle_ended("inbound", "succeeded", seconds, cycle["failed"], {
        "tenantId": ref.tenant_id, "jobId": ref.job_id, "cycleId": cycle["id"], "imported": cycle["imported"],
        "exported": cycle["exported"], "escrowed": cycle["failed"], "error": None}))


# -- what the database says, read when scraped ---------------------------------------------------

class StoreCollector:
    """Gauges read from the database at scrape time (any process would read the same, so only
    ``graphsync serve`` exports them). A failing read leaves its gauge out of that scrape."""

    def __init__(self, runtime):
        self.runtime = runtime

    def collect(self):
        from graphsync.services import inbound, provisioning
        from graphsync.store.engine_tables import sync_escrows
        from sqlalchemy import func, select

        depth = GaugeMetricFamily("graphsync_queue_depth", "Jobs whose work is due: outbound jobs whose next cycle "
                                  "is due (or asked for by start), inbound jobs with staged records",
                                  labels=["direction"])
        try:
            depth.add_metric(["outbound"], len(provisioning.due_jobs(self.runtime, self.runtime.clock.now())))
            depth.add_metric(["inbound"], len(inbound.inbound_jobs(self.runtime)))
            yield depth
        except Exception:
            log.warning("graphsync_queue_depth could not be read", exc_info=True)
        try:
            with self.runtime.db.reading() as conn:
                escrowed = conn.execute(select(func.count()).select_from(sync_escrows)).scalar_one()
            yield GaugeMetricFamily("graphsync_escrowed_objects", "Objects in escrow now (failed, waiting for "
                                    "their next retry), all jobs", value=escrowed)
        except Exception:
            log.warning("graphsync_escrowed_objects could not be read", exc_info=True)


class _Forward:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def _process_registry() -> Any:
    """This process's metrics, or, in multiprocess mode, every process's summed."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess
        registry = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _authorized(header: str | None, token: str) -> bool:
    if not token:
        return True
    scheme, _, presented = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="graphsync metrics"'}


def install(app, runtime) -> None:
    """``GET /metrics`` on the API (unless GRAPHSYNC_METRICS=false); with GRAPHSYNC_METRICS_TOKEN set
    it needs ``Authorization: Bearer <that token>``."""
    settings = runtime.settings
    if not settings.metrics:
        return
    from starlette.responses import Response

    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Forward(_process_registry()))
    registry.register(StoreCollector(runtime))
    token = settings.metrics_token

    def scrape(request) -> Response:  # a plain def: Starlette runs it (the database reads) off the event loop
        if not _authorized(request.headers.get("authorization"), token):
            return Response("a bearer token is required (GRAPHSYNC_METRICS_TOKEN)\n", status_code=401,
                            media_type="text/plain", headers=UNAUTHORIZED_HEADERS)
        encoder, content_type = choose_encoder(request.headers.get("accept"))
        return Response(encoder(registry), media_type=content_type)

    app.add_route("/metrics", scrape, methods=["GET"], include_in_schema=False)


def serve_worker_metrics(port: int, host: str = "127.0.0.1", token: str = ""):
    """``graphsync worker --metrics-port``: this process's metrics over HTTP from a daemon thread
    (the worker has no HTTP server of its own); the same token rule as ``/metrics``."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:  # a scrape every few seconds is no news
            pass

    metrics_app = make_wsgi_app(_process_registry())

    def app(environ, start_response):
        if not _authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), *UNAUTHORIZED_HEADERS.items()])
            return [b"a bearer token is required (GRAPHSYNC_METRICS_TOKEN)\n"]
        return metrics_app(environ, start_response)

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="graphsync-metrics", daemon=True).start()
    return server


@contextmanager
def shared_between_workers() -> Iterator[None]:
    """Around ``uvicorn.run(..., workers=N)``: the worker processes (started afterwards, with this
    environment) keep their counters in a fresh private directory that every ``/metrics`` sums.
    A PROMETHEUS_MULTIPROC_DIR set by the user is used as it is (and not emptied)."""
    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="graphsync-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def configure_logging(level: str) -> None:
    """Log records (the per-cycle line among them) to stderr, as ``graphsync worker`` does; for
    ``graphsync serve``, whose uvicorn configures only its own loggers."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
