"""One provisioning cycle: import → scope → match → map → diff → export, then references.

Initial cycles read every source object in pages and match against an index of the target built
from one paged listing (no filter query per object); incremental cycles read the change feed
since the watermark. Links (source id → target id, and what was last exported) are saved page
by page before moving on, so a cycle killed anywhere is resumed by the next one without
duplicates: an unlinked object is matched before it is created.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from graphsync import expressions
from graphsync.connectors.scim import ListingCheck, ScimClient, ScimError
from graphsync.engine import logs, resource
from graphsync.engine.mapping import ObjectRule, evaluate
from graphsync.engine.ports import Escrow, Link, Source, StateStore
from graphsync.engine.source_view import group_attributes, is_disabled_or_deleted, user_attributes

log = logging.getLogger("graphsync.engine")

PAGE_SIZE = 200
NAMED_MEMBERS = 20  # added members a group's log entry names (the others are counted)
STOP_CHECK_EVERY = 50  # objects started between two questions "was the job paused?" (a query)
CHANGES_BATCH = 5000
ESCROW_BACKOFF = (timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
ESCROW_GIVE_UP = timedelta(days=28)


class _Pipeline:
    """Up to ``depth`` pages in flight: the next pages' objects queue for request slots behind the
    current page's while its links and logs are written, so the target never idles between pages
    and one slow answer holds back only its own page (against scim2-server at concurrency 16,
    depth 6 keeps pace with a bare client where depth 2 reached ~0.8x). A deep pipeline does not
    delay a pause: every object checks for a stop before it starts (see ``Cycle._stopping``)."""

    def __init__(self, depth: int = 6):
        self.depth = depth
        self.running: set[asyncio.Future] = set()

    async def add(self, work) -> None:
        self.running.add(asyncio.ensure_future(work))
        while len(self.running) >= self.depth:
            await self._wait()

    async def drain(self) -> None:
        while self.running:
            await self._wait()

    async def _wait(self) -> None:
        done, self.running = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
        failures = [task.exception() for task in done  # every outcome is retrieved, not only the first
                    if not task.cancelled() and task.exception() is not None]
        if failures:
            raise failures[0]  # a page's failure (pause, rejected credentials) ends the pass

    async def __aenter__(self) -> _Pipeline:
        return self

    async def __aexit__(self, kind, *exc) -> None:
        # pages already in flight finish (and save their links) even when another page failed
        # or found the job paused: what was sent to the target is never left unlinked
        try:
            if kind is None:
                await self.drain()
        finally:
            await asyncio.gather(*self.running, return_exceptions=True)
            self.running = set()


class CredentialsRejected(Exception):
    """The target refused our credentials: the job must stop and be quarantined."""


class CycleInterrupted(Exception):
    """The job was paused (or deleted, or its lease was lost) while the cycle ran: the objects
    already under way finished and were linked; the others wait for the next cycle."""


class LeaseLost(CycleInterrupted):
    """The job's lease is no longer provably this process's (a renewal failed, or the process was
    paused past its expiry): the cycle stops before its next write to the target or the store,
    and saves nothing more; whoever holds the lease now carries on."""


@dataclass
class CycleSettings:
    tenant_id: str
    job_id: str
    service_principal_id: str
    service_principal_name: str
    sync_all: bool
    skip_out_of_scope_deletions: bool
    dialect: resource.Dialect = "rfc7644"
    target_name: str = "customappsso"
    source_name: str = "Microsoft Entra ID"
    application_id: str = ""  # the appId (targetSystem.details.ApplicationId in the logs)


@dataclass
class CycleResult:
    cycle_id: str
    initial: bool
    watermark: int
    began: datetime
    ended: datetime | None = None
    imported: int = 0
    exported: int = 0
    escrowed: int = 0
    deltas: int = 0
    held_deletes: int = 0  # deletes and disables held back by the accidental-deletion threshold


@dataclass
class Outcome:
    action: str  # create | update | disable | delete | other
    status: str  # success | skipped | failure; deferred | unstarted (not decided in this pass)
    target_id: str | None = None
    reason: str = ""
    error_code: str | None = None
    modified: dict[str, tuple[Any, Any]] = field(default_factory=dict)


class Cycle:
    def __init__(self, rules: list[ObjectRule], settings: CycleSettings, source: Source, target: ScimClient,
                 store: StateStore, now, context: expressions.EvaluationContext,
                 should_stop: Callable[[], bool] = lambda: False, delete_threshold: int | None = None,
                 force_deletes: bool = False, on_progress: Callable[[int, int], None] | None = None):
        self.rules = [r for r in rules if r.enabled]
        self.settings = settings
        self.source = source
        self.target = target
        self.store = store
        self.now = now
        self.context = context
        self.should_stop = should_stop
        self.delete_threshold = delete_threshold
        self.force_deletes = force_deletes
        self.on_progress = on_progress
        self.total = 0  # objects this cycle expects to import (for progress)
        self._pending_deletes: list[tuple[ObjectRule, str, dict | None]] = []
        self._due_escrows: dict[tuple[str, str], Escrow] = {}
        self._executing_deletes = False
        self.assigned_users: set[str] = set()
        self.assigned_groups: set[str] = set()
        self.touched: dict[str, set[str]] = {"user": set(), "group": set()}
        self.result: CycleResult | None = None
        self._index: dict[str, dict[str, str]] = {}  # resource → "path\0value" → target id
        self._index_complete: dict[str, bool] = {}  # resource → whether its listing can be trusted
        self._known_empty: set[str] = set()  # resources known to hold nothing this cycle could match
        self._log_buffer: list[dict[str, Any]] = []
        self._slots: asyncio.Semaphore | None = None  # objects being processed at once
        self.captured: list[dict[str, Any]] | None = None  # log entries (expanded), for provisionOnDemand
        self.stop_check_every = STOP_CHECK_EVERY
        self._stop_seen = False
        self._unchecked = 0  # objects started since should_stop() was last asked
        self._writer: ThreadPoolExecutor | None = None  # saves pages' outcomes (see _save)

    # ------------------------------------------------------------------------------------------
    async def run(self, *, initial: bool, watermark: int, cycle_id: str | None = None,
                  users_done: bool = False) -> CycleResult:
        """A whole cycle. ``users_done``: the finish of a bucketed initial cycle, whose users the
        buckets went through (``run_bucket``); ``watermark`` is then the one taken at its start."""
        try:
            return await self._run(initial, watermark, cycle_id, users_done)
        except ScimError as exc:
            if exc.credentials:
                raise CredentialsRejected(str(exc)) from exc
            raise
        finally:
            self._close_writer()

    async def run_bucket(self, after: str | None, upto: str | None, *, cycle_id: str, watermark: int,
                         total: int, target_was_empty: bool = False) -> CycleResult:
        """One bucket of a large initial cycle: the users with ids in (``after``, ``upto``], so
        that several workers share the cycle. Escrow retries, deletes held back and references
        wait for the cycle's finish (``run(users_done=True)``), once every bucket is through.
        ``target_was_empty``: the target had no users when the cycle began and this bucket never
        ran before, so none of its users can be there: no listing (the other buckets' users, which
        a listing would return, are never its matches)."""
        self.result = CycleResult(cycle_id, True, watermark, self.now())
        self.total = total
        if target_was_empty:
            self._known_empty.update(rule.resource for rule in self.rules if not rule.group)
        try:
            if not self.settings.sync_all:
                self.assigned_users, self.assigned_groups = self.source.assigned()
            for rule in self.rules:
                if not rule.group:
                    await self._initial(rule, after, upto)
        except ScimError as exc:
            if exc.credentials:
                raise CredentialsRejected(str(exc)) from exc
            raise
        finally:
            self._close_writer()
        self._flush_logs()
        self.result.ended = self.now()
        return self.result

    async def _run(self, initial: bool, watermark: int, cycle_id: str | None, users_done: bool) -> CycleResult:
        began = self.now()
        self.result = CycleResult(cycle_id or str(uuid.uuid4()), initial, watermark, began)
        if not self.settings.sync_all:
            self.assigned_users, self.assigned_groups = self.source.assigned()
        if initial:
            rules = [rule for rule in self.rules if rule.group or not users_done]
            if not users_done:
                self.result.watermark = self.source.latest_seq()
            self.total = sum(self.source.count(_object_type(rule)) for rule in rules)
            for rule in rules:
                await self._initial(rule)
        else:
            await self._incremental(watermark)
        await self._retry_escrows()
        await self._apply_deletes()
        await self._references()
        self._flush_logs()
        self.result.ended = self.now()
        return self.result

    async def run_subjects(self, subjects: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """provisionOnDemand: the whole pipeline for a few objects now; returns their log entries."""
        self.result = CycleResult(str(uuid.uuid4()), False, 0, self.now())
        self.captured = []
        if not self.settings.sync_all:
            self.assigned_users, self.assigned_groups = self.source.assigned()
        try:
            for rule in self.rules:
                ids = list(dict.fromkeys(sid for kind, sid in subjects if kind == _object_type(rule)))
                if ids:
                    docs = self.source.get(_object_type(rule), ids)
                    await self._process_page(rule, {sid: docs.get(sid) for sid in ids})
            await self._references()
        finally:
            self._close_writer()
        self._flush_logs()
        return self.captured

    # ------------------------------------------------------------------------------------------
    async def _initial(self, rule: ObjectRule, after: str | None = None, upto: str | None = None) -> None:
        """Source pages in id order, merged with the links in the same order: a link between two
        pages' ids that is not in the page belongs to an object that is soft-deleted (the pages
        hold live objects) or gone. Memory follows the page size, not the directory size. Only
        ids in (``after``, ``upto``] when they are given (a bucket)."""
        object_type = _object_type(rule)
        await self._build_index(rule)
        async with _Pipeline() as pipeline:
            while True:
                page = self.source.page(object_type, after, PAGE_SIZE)
                last = not page or (upto is not None and page[-1]["id"] >= upto)
                if upto is not None:
                    page = [doc for doc in page if doc["id"] <= upto]
                # the links up to this page's end, or to the range's end after its last page
                links_upto = upto if last else page[-1]["id"]
                ids = {doc["id"] for doc in page}
                missing = [sid for sid in self.store.link_ids(object_type, after, links_upto) if sid not in ids]
                if page:
                    await pipeline.add(self._process_page(rule, {doc["id"]: doc for doc in page}))
                for start in range(0, len(missing), PAGE_SIZE):
                    chunk = missing[start:start + PAGE_SIZE]
                    docs = self.source.get(object_type, chunk)  # soft-deleted ones are still there
                    await pipeline.add(self._process_page(rule, {sid: docs.get(sid) for sid in chunk}))
                if last:
                    break
                after = page[-1]["id"]
        self._index.pop(rule.resource, None)

    async def _build_index(self, rule: ObjectRule) -> None:
        """One paged listing of the target, indexed by the matching attributes' values. Only ids
        are kept (memory follows the count, not the size, of the target's objects); a hit is read
        again by id when it is needed."""
        index: dict[str, str] = {}
        if rule.resource in self._known_empty:
            self._index[rule.resource], self._index_complete[rule.resource] = index, True
            return
        paths = [m.target for m in rule.matching]
        excluded = "members" if rule.group else None
        check = ListingCheck()
        async for page in self.target.list_all(rule.resource, excluded=excluded, check=check):
            for item in page:
                for path in paths:
                    value = resource.read_value(item, path)
                    if isinstance(value, str) and item.get("id"):
                        index.setdefault(f"{path}\0{value.lower()}", item["id"])
        self._index[rule.resource] = index
        self._index_complete[rule.resource] = check.complete
        if not check.complete:
            log.warning("job %s: the target's listing of /%s cannot be trusted (%s); objects not found in it are "
                        "looked up with a filter before they are created", self.settings.job_id, rule.resource,
                        "; ".join(check.problems))

    async def _incremental(self, watermark: int) -> None:
        affected: dict[str, set[str]] = {"user": set(), "group": set()}
        last = watermark
        while True:
            changes = self.source.changes(last, CHANGES_BATCH)
            if not changes:
                break
            last = changes[-1].seq
            for change in changes:
                self.result.deltas += 1
                affected.setdefault(change.object_type, set()).add(change.object_id)
                detail = change.detail or {}
                if change.change in ("memberAdded", "memberRemoved"):
                    affected.setdefault(detail.get("memberType", "user"), set()).add(detail.get("memberId"))
                if change.object_type == "group" and change.change in (
                        "assignmentAdded", "assignmentRemoved", "softDeleted", "restored"):
                    # the members' assignment scope may have changed with the group's
                    for member_id, member_type in self.source.members(change.object_id):
                        affected.setdefault(member_type, set()).add(member_id)
        self.result.watermark = last
        self.total = sum(len(ids) for ids in affected.values())
        for rule in self.rules:
            ids = sorted(i for i in affected.get(_object_type(rule), set()) if i)
            async with _Pipeline() as pipeline:
                for start in range(0, len(ids), PAGE_SIZE):
                    chunk = ids[start:start + PAGE_SIZE]
                    docs = self.source.get(_object_type(rule), chunk)
                    await pipeline.add(self._process_page(rule, {sid: docs.get(sid) for sid in chunk}))

    async def _retry_escrows(self) -> None:
        due = self.store.escrows_due(self.now())
        self._due_escrows = {(e.object_type, e.source_id): e for e in due}
        for rule in self.rules:
            ids = [e.source_id for e in due if e.object_type == _object_type(rule)
                   and e.source_id not in self.touched[_object_type(rule)]]
            for start in range(0, len(ids), PAGE_SIZE):
                chunk = ids[start:start + PAGE_SIZE]
                docs = self.source.get(_object_type(rule), chunk)
                await self._process_page(rule, {sid: docs.get(sid) for sid in chunk}, escrows=due)

    # ------------------------------------------------------------------------------------------
    def _stopping(self, *, throttled: bool = True) -> bool:
        """Whether the cycle must stop (paused, deleted, lease lost). Asked at every page and by
        every STOP_CHECK_EVERY-th object before it starts, so a pause takes effect within a page
        however many pages are in flight. Once seen, it stays seen."""
        if self._stop_seen:
            return True
        self._unchecked += 1
        if throttled and self._unchecked < self.stop_check_every:
            return False
        self._unchecked = 0
        self._stop_seen = self.should_stop()
        return self._stop_seen

    async def _process_page(self, rule: ObjectRule, docs: dict[str, dict | None],
                            escrows: list[Escrow] | None = None) -> None:
        if self._stopping(throttled=False):
            raise CycleInterrupted()
        object_type = _object_type(rule)
        links = self.store.links(object_type, list(docs))
        outcomes = await asyncio.gather(*(self._process(rule, sid, doc, links.get(sid))
                                          for sid, doc in docs.items()))
        saved, dropped, failed, succeeded = [], [], [], []
        previous = {e.source_id: e for e in escrows or [] if e.object_type == object_type}
        for (sid, doc), (outcome, link) in zip(docs.items(), outcomes):
            if outcome.status in ("deferred", "unstarted"):  # decided again later in this cycle, or the next
                continue
            self.result.imported += 1
            if not self.result.initial:  # an initial cycle touches everything; the set would hold the directory
                self.touched[object_type].add(sid)
            if outcome.status == "failure":
                failed.append(self._escrow(object_type, sid, outcome, previous.get(sid)))
            else:
                succeeded.append((object_type, sid))
            if link is not None and outcome.action != "delete":
                saved.append(link)
            elif outcome.action == "delete" and outcome.status == "success":
                dropped.append(sid)
            if outcome.status == "success" and outcome.action in ("create", "update", "disable", "delete"):
                self.result.exported += 1
            self._log(rule, sid, doc, outcome)
        await self._save(links=saved, dropped=[(object_type, sid) for sid in dropped], cleared=succeeded,
                         escrows=failed, logs=self._take_logs())
        self.result.escrowed += len(failed)
        if self._stop_seen:  # what was done is saved; the rest of the page waits for the next cycle
            raise CycleInterrupted()
        if self.on_progress is not None:
            self.on_progress(self.result.imported, max(self.total, self.result.imported))

    async def _save(self, **outcome) -> None:
        """A page's outcome into the store, in a thread of the cycle's own: the event loop goes on
        sending and receiving the other pages' requests meanwhile (saving a page of 200 took
        ~35 ms on PostgreSQL, a tenth of the cycle's time spent with the target idle). One
        thread, so pages are saved one at a time, in the order they finish."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="graphsync-cycle-save")
        await asyncio.get_running_loop().run_in_executor(self._writer, functools.partial(self.store.commit, **outcome))

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _escrow(self, object_type: str, sid: str, outcome: Outcome, previous: Escrow | None) -> Escrow:
        now = self.now()
        attempts = (previous.attempts + 1) if previous else 1
        first = previous.first_failure if previous else now
        # retried 6 h, 12 h and 24 h after the first failure, then daily, for 28 days
        next_attempt = first + ESCROW_BACKOFF[attempts - 1] if attempts <= len(ESCROW_BACKOFF) \
            else now + timedelta(hours=24)
        if now - first > ESCROW_GIVE_UP:
            next_attempt = datetime.max.replace(tzinfo=now.tzinfo)  # given up: kept for reporting only
        return Escrow(object_type, sid, attempts, first, next_attempt, outcome.error_code or "InternalError",
                      outcome.reason)

    async def _process(self, rule: ObjectRule, sid: str, doc: dict | None, link: Link | None):
        if self._slots is None:
            # objects are mapped as request slots free up, not a page's worth at once: a burst of
            # mapping would leave the answers of the requests in flight waiting (and the target idle)
            self._slots = asyncio.Semaphore(2 * max(self.target.concurrency, self.target.batch_size))
        async with self._slots:
            if self._stopping():
                return Outcome("other", "unstarted"), link
            return await self._decide_safely(rule, sid, doc, link)

    async def _decide_safely(self, rule: ObjectRule, sid: str, doc: dict | None, link: Link | None):
        """The object's outcome; a failure is logged with the action that was attempted."""
        attempt: list[str] = ["create" if link is None else "update"]
        try:
            return await self._decide(rule, sid, doc, link, attempt)
        except ScimError as exc:
            if exc.credentials:
                raise CredentialsRejected(str(exc)) from exc
            return Outcome(attempt[0], "failure", link.target_id if link else None, str(exc), exc.code), link
        except expressions.EvaluationError as exc:
            what = "A scoping filter" if isinstance(exc, expressions.FilterError) else "An attribute mapping"
            return Outcome(attempt[0], "failure", link.target_id if link else None, f"{what} failed: {exc}",
                           "MappingError"), link

    async def _decide(self, rule: ObjectRule, sid: str, doc: dict | None, link: Link | None,
                      attempt: list[str]):
        """``attempt[0]`` is set to the action under way, for the log entry of a failure."""
        object_type = _object_type(rule)
        if doc is None:  # hard-deleted in the source
            if link is None:
                return Outcome("other", "skipped", reason="The object was deleted in the source and is not "
                                                          "provisioned."), None
            if "Delete" not in rule.flow_types:
                return Outcome("other", "skipped", link.target_id, "Deletes are not enabled for this mapping."), link
            if held := self._hold(rule, sid, doc, link):
                return held
            attempt[0] = "delete"
            await self.target.delete(rule.resource, link.target_id)
            return Outcome("delete", "success", link.target_id), link
        removed = is_disabled_or_deleted(object_type, doc)
        entitled = self._entitled(object_type, sid)
        attributes = self._attributes(object_type, doc, soft_deleted=removed or not entitled)
        in_filter = expressions.scope_matches(rule.scope, attributes) if rule.scope else True
        if not entitled or not in_filter or removed:
            attempt[0] = "disable" if rule.soft_delete_supported else "delete"
            return await self._deprovision(rule, sid, attributes, link, removed,
                                           "not assigned to the application" if not entitled
                                           else "outside the scoping filter" if not in_filter
                                           else "disabled or soft-deleted in the source", doc)
        if link is not None:
            return await self._update(rule, attributes, link)
        return await self._create_or_match(rule, sid, attributes)

    def _entitled(self, object_type: str, sid: str) -> bool:
        if self.settings.sync_all:
            return True
        return sid in (self.assigned_users if object_type == "user" else self.assigned_groups)

    def _attributes(self, object_type: str, doc: dict, *, soft_deleted: bool) -> dict[str, Any]:
        if object_type == "user":
            return user_attributes(doc, soft_deleted=soft_deleted, manager_id=None)
        return group_attributes(doc, soft_deleted=soft_deleted)

    async def _deprovision(self, rule, sid, attributes, link, removed, why, doc=None):
        if link is None:
            return Outcome("other", "skipped", reason=f"The object is {why}; it is not provisioned."), None
        if self.settings.skip_out_of_scope_deletions and not removed:
            return Outcome("other", "skipped", link.target_id,
                           f"The object is {why}; SkipOutOfScopeDeletions keeps it in the target."), link
        if not rule.soft_delete_supported:
            if "Delete" not in rule.flow_types:
                return Outcome("other", "skipped", link.target_id, "Deletes are not enabled for this mapping."), link
            if held := self._hold(rule, sid, doc, link):
                return held
            await self.target.delete(rule.resource, link.target_id)
            return Outcome("delete", "success", link.target_id, f"The object is {why}."), link
        evaluated = evaluate(rule, attributes, self.context, creating=False, exported=link.exported)
        changed = {k: v for k, v in evaluated.values.items() if link.exported.get(k) != v}
        if not changed:
            return Outcome("disable", "skipped", link.target_id, "The target already matches."), link
        if held := self._hold(rule, sid, doc, link):
            return held
        await self.target.patch(rule.resource, link.target_id,
                                resource.patch_operations(link.exported, changed, self.settings.dialect))
        modified = _modified(link.exported, changed, evaluated.shown)
        link.exported.update(changed)
        return Outcome("disable", "success", link.target_id, f"The object is {why}.", modified=modified), link

    def _hold(self, rule: ObjectRule, sid: str, doc: dict | None, link: Link):
        """With an accidental-deletion threshold, deletes and disables wait until the cycle knows
        how many there are (reference §6.7)."""
        if self.delete_threshold is None or self._executing_deletes:
            return None
        self._pending_deletes.append((rule, sid, doc))
        return Outcome("other", "deferred", link.target_id), link

    async def _apply_deletes(self) -> None:
        pending, self._pending_deletes = self._pending_deletes, []
        if not pending:
            return
        if len(pending) > self.delete_threshold and not self.force_deletes:
            self.result.held_deletes = len(pending)
            reason = (f"{len(pending)} deletions or disables in this cycle exceed the accidental-deletion threshold "
                      f"of {self.delete_threshold}; they are held back until the job is restarted with ForceDeletes.")
            for rule, sid, doc in pending:
                self._log(rule, sid, doc, Outcome("stagedDelete", "skipped", None, reason))
            self._flush_logs()
            return
        self._executing_deletes = True
        for rule in self.rules:
            mine = [(sid, doc) for r, sid, doc in pending if r is rule]
            for start in range(0, len(mine), PAGE_SIZE):
                await self._process_page(rule, dict(mine[start:start + PAGE_SIZE]))

    async def _update(self, rule: ObjectRule, attributes: dict, link: Link):
        evaluated = evaluate(rule, attributes, self.context, creating=False, exported=link.exported)
        changed = {k: v for k, v in evaluated.values.items() if link.exported.get(k) != v}
        if not changed:
            return Outcome("other", "skipped", link.target_id, "RedundantExport"), link
        if "Update" not in rule.flow_types:
            return Outcome("update", "skipped", link.target_id, "Updates are not enabled for this mapping."), link
        await self.target.patch(rule.resource, link.target_id,
                                resource.patch_operations(link.exported, changed, self.settings.dialect))
        modified = _modified(link.exported, changed, evaluated.shown)
        link.exported.update(changed)
        return Outcome("update", "success", link.target_id, modified=modified), link

    async def _create_or_match(self, rule: ObjectRule, sid: str, attributes: dict):
        found = await self._match(rule, attributes)
        if found is not None:
            outcome, link = await self._adopt(rule, sid, attributes, found)
            if outcome.action == "other":
                outcome.reason = "Matched an existing object in the target; it already has the mapped values."
            return outcome, link
        if "Add" not in rule.flow_types:
            return Outcome("other", "skipped", reason="Creates are not enabled for this mapping."), None
        evaluated = evaluate(rule, attributes, self.context, creating=True)
        try:
            created = await self.target.create(rule.resource, resource.build_resource(evaluated.values,
                                                                                       group=rule.group))
        except ScimError as exc:
            if exc.status != 409:
                raise
            # it exists after all (created meanwhile, or missed by matching): update what differs
            found = await self._match(rule, attributes, use_index=False)
            if found is None:
                raise
            return await self._adopt(rule, sid, attributes, found)
        modified = {k: (None, v) for k, v in evaluated.shown.items()}
        return Outcome("create", "success", created["id"], modified=modified), \
            Link(_object_type(rule), sid, created["id"], dict(evaluated.values))

    async def _adopt(self, rule: ObjectRule, sid: str, attributes: dict, found: dict):
        """Link a source object to an object found in the target, and update only what differs
        from the found object's current values (a multi-valued ``add`` of a value it already has
        would append a second work email)."""
        exported = {path: resource.read_value(found, path, lenient=True) for path in (a.target for a in rule.attributes)}
        exported = {k: v for k, v in exported.items() if v is not None and not _is_reference(rule, k)}
        return await self._update(rule, attributes, Link(_object_type(rule), sid, found["id"], exported))

    async def _match(self, rule: ObjectRule, attributes: dict, use_index: bool = True) -> dict | None:
        """The target object this source object matches: from the cycle's index of the target, or
        with a filter query (no index, or a listing that cannot be trusted and missed it)."""
        index = self._index.get(rule.resource) if use_index else None
        trusted = self._index_complete.get(rule.resource, False)
        for matching in rule.matching:
            value = expressions.unwrap(expressions.evaluate(matching.source, attributes, self.context)) \
                if matching.source else None
            if value is None or value is expressions.IGNORE_FLOW or value == "":
                continue
            if index is not None:
                hit = index.get(f"{matching.target}\0{str(value).lower()}")
                if hit is not None:
                    found = await self.target.get(rule.resource, hit,
                                                  excluded="members" if rule.group else None)
                    if found is not None:  # else it was deleted since the listing
                        return found
                if trusted:
                    continue
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            hits = await self.target.search(rule.resource, f'{matching.target} eq "{escaped}"',
                                            excluded="members" if rule.group else None)
            if len(hits) > 1:
                raise ScimError(f"{len(hits)} objects in the target match {matching.target} = {value}",
                                code="SystemForCrossDomainIdentityManagementMultipleEntriesInResponse")
            if hits:
                return hits[0]
        return None

    # ------------------------------------------------------------------------------------------
    async def _references(self) -> None:
        """Second pass: managers and group members, as target ids of linked objects."""
        for rule in self.rules:
            references = rule.reference_attributes
            if not references:
                continue
            async with _Pipeline(depth=2) as pipeline:  # a page's updates are not stopped one by one
                for chunk in self._reference_pages(rule):
                    await pipeline.add(self._reference_page(rule, chunk))

    async def _reference_page(self, rule: ObjectRule, chunk: list[str]) -> None:
        if self._stopping(throttled=False):
            raise CycleInterrupted()
        related = self.source.members_of(chunk) if rule.group else self.source.managers_of(chunk)
        if not rule.group:  # only users with a manager can need a manager update
            chunk = [sid for sid in chunk if sid in related]
        links = self.store.links(_object_type(rule), chunk)
        targets = self._target_ids_of(related.values(), group=rule.group)
        updated = await asyncio.gather(*(self._reference_update(rule, links[sid], related.get(sid), targets)
                                         for sid in chunk if sid in links))
        failed = [failure for _, failure in updated if failure is not None]
        entries = self._take_logs()
        self._name(entries, _object_type(rule))
        await self._save(links=[link for link, _ in updated if link is not None],
                         escrows=failed,  # a failed reference is retried like any object
                         logs=entries)
        self.result.escrowed += len(failed)

    def _reference_pages(self, rule: ObjectRule):
        """Ids whose references may have changed, in pages: after an initial cycle every linked
        group and every user with a manager (page by page), else what the cycle touched and the
        groups of touched users."""
        object_type = _object_type(rule)
        if self.result.initial:  # every linked group; of the users, those with a manager
            after = None
            while chunk := (self.store.link_ids(object_type, after, None, limit=PAGE_SIZE) if rule.group
                            else self.source.managed_users(after, PAGE_SIZE)):
                yield chunk
                after = chunk[-1]
            return
        ids = set(self.touched[object_type])
        if rule.group:
            ids.update(self.source.groups_of(sorted(self.touched["user"])))
        ids = sorted(ids)
        for start in range(0, len(ids), PAGE_SIZE):
            yield ids[start:start + PAGE_SIZE]

    def _target_ids_of(self, related, *, group: bool) -> dict[tuple[str, str], str]:
        """One query per object type for the target ids of a page's members or managers."""
        wanted: dict[str, set[str]] = {"user": set(), "group": set()}
        for value in related:
            if group:
                for member_id, kind in value or []:
                    wanted.setdefault(kind, set()).add(member_id)
            elif value:
                wanted["user"].add(value)
        return {(kind, sid): tid for kind, ids in wanted.items() if ids
                for sid, tid in self.store.target_ids(kind, sorted(ids)).items()}

    async def _reference_update(self, rule: ObjectRule, link: Link, related: Any,
                                targets: dict[tuple[str, str], str]) -> tuple[Link | None, Escrow | None]:
        """``related``: the group's members, or the user's manager id; ``targets``: their target ids."""
        changed = False
        try:
            for attribute in rule.reference_attributes:
                if rule.group and attribute.source_attribute == "members":
                    changed |= await self._sync_members(rule, link, attribute.target, related or [], targets)
                elif attribute.source_attribute == "manager":
                    changed |= await self._sync_manager(rule, link, attribute.target, related, targets)
        except ScimError as exc:
            if exc.credentials:
                raise CredentialsRejected(str(exc)) from exc
            outcome = Outcome("update", "failure", link.target_id, str(exc), exc.code)
            self._log(rule, link.source_id, _named(link), outcome)
            object_type = _object_type(rule)
            return None, self._escrow(object_type, link.source_id, outcome,
                                      self._due_escrows.get((object_type, link.source_id)))
        return (link if changed else None), None

    async def _sync_members(self, rule: ObjectRule, link: Link, target: str,
                            members: list[tuple[str, str]], targets: dict[tuple[str, str], str]) -> bool:
        wanted = {targets[(kind, member)] for member, kind in members if (kind, member) in targets}
        current = set(link.exported.get(target) or [])
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if not added and not removed:
            return False
        await self.target.patch(rule.resource, link.target_id,
                                resource.member_operations(added, removed, self.settings.dialect))
        link.exported[target] = sorted(wanted)
        source_of = {targets[(kind, member)]: [kind, member] for member, kind in members if (kind, member) in targets}
        self._log(rule, link.source_id, _named(link), Outcome(
            "update", "success", link.target_id, "Group members updated.",
            modified={"members": (f"removed {len(removed)}" if removed else None, f"added {len(added)}")}),
            refs={"members": [source_of[tid] for tid in added[:NAMED_MEMBERS]],
                  "more": max(0, len(added) - NAMED_MEMBERS)})
        return True

    async def _sync_manager(self, rule: ObjectRule, link: Link, target: str, manager: str | None,
                            targets: dict[tuple[str, str], str]) -> bool:
        wanted = targets.get(("user", manager)) if manager else None
        if wanted is None or link.exported.get(target) == wanted:
            return False
        await self.target.patch(rule.resource, link.target_id, resource.patch_operations(
            link.exported, {target: wanted}, self.settings.dialect))
        previous = link.exported.get(target)
        link.exported[target] = wanted
        self._log(rule, link.source_id, _named(link), Outcome("update", "success", link.target_id, "Manager updated.",
                                                      modified={"manager": (previous, wanted)}),
                  refs={"manager": manager})
        return True

    # ------------------------------------------------------------------------------------------
    def _log(self, rule: ObjectRule, sid: str, doc: dict | None, outcome: Outcome,
             refs: dict[str, Any] | None = None) -> None:
        """Buffer a log entry; ``refs``: the source ids of the manager or added members it sets
        (named by ``_name`` before it is written)."""
        record = logs.record(self.settings, self.result.cycle_id, rule, sid, doc, outcome, self.now())
        if refs:
            record["refs"] = refs
        self._log_buffer.append(record)

    def _take_logs(self) -> list[dict[str, Any]]:
        taken, self._log_buffer = self._log_buffer, []
        if self.captured is not None:
            self._name(taken, None)
            self.captured.extend(logs.expand(record) for record in taken)
        return taken

    def _name(self, entries: list[dict[str, Any]], object_type: str | None) -> None:
        """The display names of the manager or added members that reference updates set, as
        last exported to the target (their links: no directory read). Only for entries that
        need it."""
        named = [e for e in entries if "refs" in e]
        if not named:
            return
        wanted: dict[str, set[str]] = {}
        for entry in named:
            refs = entry["refs"]
            if refs.get("manager"):
                wanted.setdefault("user", set()).add(refs["manager"])
            for kind, sid in refs.get("members") or []:
                wanted.setdefault(kind, set()).add(sid)
        names = {(kind, sid): name for kind, ids in wanted.items()
                 for sid, name in self.store.display_names(kind, sorted(ids)).items()}
        for entry in named:
            refs = entry.pop("refs")
            if refs.get("manager"):
                entry["modified"].append(["manager.displayName", None, names.get(("user", refs["manager"]))])
            if refs.get("members"):
                shown = ", ".join(names.get((kind, sid)) or sid for kind, sid in refs["members"])
                entry["modified"].append(["members.added", None,
                                          shown + (f" and {refs['more']} more" if refs.get("more") else "")])

    def _flush_logs(self) -> None:
        if self._log_buffer:
            self.store.write_logs(self._take_logs())


def _object_type(rule: ObjectRule) -> str:
    return "group" if rule.group else "user"


def _named(link: Link) -> dict[str, Any]:
    """A stand-in document for log entries of a linked object: its name as last exported."""
    exported = link.exported
    return {"displayName": exported.get("displayName") or exported.get("userName") or link.source_id}


def _modified(exported: dict, changed: dict, shown: dict) -> dict[str, tuple[Any, Any]]:
    """old → new for the logs; a Redact()ed attribute shows ``[Redact]`` on both sides."""
    result = {}
    for key in changed:
        redacted = shown.get(key) == "[Redact]"
        old = exported.get(key)
        result[key] = ("[Redact]" if redacted and old is not None else old, shown.get(key))
    return result


def _is_reference(rule: ObjectRule, path: str) -> bool:
    return any(a.target == path and a.reference for a in rule.attributes)
