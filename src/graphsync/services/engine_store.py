"""The engine's state store on the database: links, escrows and provisioning logs of one job.

Every call is one unit of work, tried again after a transient database error; a ``fence``
(the job's lease, services/leases.py) is checked first in every transaction that writes, so a
process that lost the job's lease cannot commit anything more for it."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any, Callable, ContextManager, Iterator

from sqlalchemy import and_, delete, func, insert, select

from graphsync import codec, metrics
from graphsync.engine.ports import Escrow, Link, ObjectType
from graphsync.services import directory
from graphsync.services.context import Context
from graphsync.store.db import among, aware, retry_transient
from graphsync.store.engine_tables import provisioning_logs, sync_escrows, sync_links


class DatabaseStateStore:
    """Each call is its own short transaction, so what a cycle did is kept page by page
    (a cycle killed half-way leaves every finished page linked)."""

    def __init__(self, unit: Callable[[], ContextManager[Context]], tenant_id: str, job_id: str,
                 fence: Callable[[Any], None] | None = None):
        self._new_unit = unit
        self._local = threading.local()  # the transaction open in this thread (the cycle saves in a thread of its own)
        self.tenant_id = tenant_id
        self.job_id = job_id
        self.fence = fence

    @property
    def _open(self) -> Context | None:
        """The transaction open in this thread (``retry_transient`` retries it as a whole)."""
        return getattr(self._local, "open", None)

    @contextmanager
    def transaction(self) -> Iterator[Context]:
        """Calls inside share one transaction, which writes only behind the fence."""
        with metrics.after_commit(), self._new_unit() as ctx:  # objects count once committed
            if self.fence is not None:
                self.fence(ctx.conn)
            self._local.open = ctx
            try:
                yield ctx
            finally:
                self._local.open = None

    def _unit(self) -> ContextManager[Context]:
        """A unit to read in: the open transaction, else a new one."""
        return nullcontext(self._open) if self._open is not None else self._new_unit()

    def _writing(self) -> ContextManager[Context]:
        """A unit to write in: the open transaction, else a new fenced one."""
        return nullcontext(self._open) if self._open is not None else self.transaction()

    @retry_transient
    def commit(self, *, links: list[Link] = (), dropped: list[tuple[ObjectType, str]] = (),
               cleared: list[tuple[ObjectType, str]] = (), escrows: list[Escrow] = (),
               logs: list[dict[str, Any]] = ()) -> None:
        """A page's outcome in one transaction: links saved and dropped, escrows cleared and
        saved, log entries written."""
        with self.transaction():
            self.save_links(list(links))
            for object_type in {kind for kind, _ in dropped}:
                self.drop_links(object_type, [sid for kind, sid in dropped if kind == object_type])
            self.clear_escrows(list(cleared))
            self.save_escrows(list(escrows))
            self.write_logs(list(logs))

    def _where(self, table):
        return and_(table.c.tenant_id == self.tenant_id, table.c.job_id == self.job_id)

    # -- links ----------------------------------------------------------------------------------
    @retry_transient
    def links(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, Link]:
        with self._unit() as ctx:
            rows = ctx.conn.execute(select(sync_links).where(
                self._where(sync_links), sync_links.c.object_type == object_type,
                among(ctx.conn, sync_links.c.source_id, source_ids))) if source_ids else ()
            return {row.source_id: Link(object_type, row.source_id, row.target_id, dict(row.exported)) for row in rows}

    @retry_transient
    def display_names(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, str]:
        """Linked source id → the displayName last exported for it (else its userName)."""
        exported = sync_links.c.exported
        with self._unit() as ctx:
            rows = ctx.conn.execute(select(sync_links.c.source_id, exported["displayName"].as_string(),
                                           exported["userName"].as_string()).where(
                self._where(sync_links), sync_links.c.object_type == object_type,
                among(ctx.conn, sync_links.c.source_id, source_ids))) if source_ids else ()
            return {sid: name or user_name or sid for sid, name, user_name in rows}

    @retry_transient
    def link_ids(self, object_type: ObjectType, after: str | None, upto: str | None,
                 limit: int | None = None) -> list[str]:
        query = select(sync_links.c.source_id).where(self._where(sync_links), sync_links.c.object_type == object_type)
        if after is not None:
            query = query.where(sync_links.c.source_id > after)
        if upto is not None:
            query = query.where(sync_links.c.source_id <= upto)
        with self._unit() as ctx:
            return list(ctx.conn.execute(query.order_by(sync_links.c.source_id).limit(limit)).scalars())

    @retry_transient
    def target_ids(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, str]:
        with self._unit() as ctx:
            rows = ctx.conn.execute(select(sync_links.c.source_id, sync_links.c.target_id).where(
                self._where(sync_links), sync_links.c.object_type == object_type,
                among(ctx.conn, sync_links.c.source_id, source_ids))) if source_ids else ()
            return {r.source_id: r.target_id for r in rows}

    @retry_transient
    def save_links(self, links: list[Link]) -> None:
        if not links:
            return
        with self._writing() as ctx:
            for object_type in {link.object_type for link in links}:
                self._drop_links(ctx, object_type, [link.source_id for link in links if link.object_type == object_type])
            now = ctx.now()
            ctx.conn.execute(insert(sync_links), [
                {"tenant_id": ctx.tenant_id, "job_id": self.job_id, "object_type": link.object_type,
                 "source_id": link.source_id, "target_id": link.target_id, "exported": link.exported, "updated_at": now}
                for link in links])

    @retry_transient
    def drop_links(self, object_type: ObjectType, source_ids: list[str]) -> None:
        if source_ids:
            with self._writing() as ctx:
                self._drop_links(ctx, object_type, source_ids)

    def _drop_links(self, ctx: Context, object_type: ObjectType, source_ids: list[str]) -> None:
        if source_ids:
            ctx.conn.execute(delete(sync_links).where(
                self._where(sync_links), sync_links.c.object_type == object_type,
                among(ctx.conn, sync_links.c.source_id, source_ids)))

    @retry_transient
    def count_links(self) -> dict[str, int]:
        with self._unit() as ctx:
            rows = ctx.conn.execute(select(sync_links.c.object_type, func.count()).where(self._where(sync_links))
                                    .group_by(sync_links.c.object_type))
            return {kind: n for kind, n in rows}

    @retry_transient
    def clear_all_escrows(self) -> None:
        with self._writing() as ctx:
            ctx.conn.execute(delete(sync_escrows).where(self._where(sync_escrows)))

    @retry_transient
    def clear_all(self) -> None:
        with self._writing() as ctx:
            for table in (sync_links, sync_escrows):
                ctx.conn.execute(delete(table).where(self._where(table)))

    # -- escrows --------------------------------------------------------------------------------
    @retry_transient
    def escrows_due(self, now: datetime) -> list[Escrow]:
        with self._unit() as ctx:
            rows = ctx.conn.execute(select(sync_escrows).where(self._where(sync_escrows)))
            due = []
            for r in rows:
                escrow = Escrow(r.object_type, r.source_id, r.attempts, aware(r.first_failure_at),
                                aware(r.next_attempt_at), r.error_code, r.error_message)
                if escrow.next_attempt <= now:
                    due.append(escrow)
            return due

    @retry_transient
    def count_escrows(self) -> int:
        with self._unit() as ctx:
            return ctx.conn.execute(select(func.count()).select_from(sync_escrows)
                                    .where(self._where(sync_escrows))).scalar_one()

    @retry_transient
    def save_escrows(self, escrows: list[Escrow]) -> None:
        if not escrows:
            return
        with self._writing() as ctx:
            self._clear_escrows(ctx, [(e.object_type, e.source_id) for e in escrows])
            ctx.conn.execute(insert(sync_escrows), [
                {"tenant_id": ctx.tenant_id, "job_id": self.job_id, "object_type": e.object_type,
                 "source_id": e.source_id, "attempts": e.attempts, "first_failure_at": e.first_failure,
                 "next_attempt_at": min(e.next_attempt, datetime(9999, 1, 1, tzinfo=timezone.utc)),
                 "error_code": e.error_code, "error_message": e.error_message[:2000]} for e in escrows])

    @retry_transient
    def clear_escrows(self, keys: list[tuple[ObjectType, str]]) -> None:
        if keys:
            with self._writing() as ctx:
                self._clear_escrows(ctx, keys)

    def _clear_escrows(self, ctx: Context, keys: list[tuple[ObjectType, str]]) -> None:
        for object_type in {kind for kind, _ in keys}:
            ids = [sid for kind, sid in keys if kind == object_type]
            ctx.conn.execute(delete(sync_escrows).where(
                self._where(sync_escrows), sync_escrows.c.object_type == object_type,
                among(ctx.conn, sync_escrows.c.source_id, ids)))

    # -- logs -----------------------------------------------------------------------------------
    @retry_transient
    def write_logs(self, entries: list[dict[str, Any]]) -> None:
        """``entries``: compact records (engine.logs.record), expanded when the logs are read."""
        if not entries:
            return
        with self._writing() as ctx:
            now = ctx.now()
            directory.insert_rows(ctx, provisioning_logs, _LOG_COLUMNS, [
                (ctx.tenant_id, e["id"], self.job_id, e["cycleId"], now, e["action"], e["status"], e["sourceId"],
                 codec.dumps(e)) for e in entries], json_text=("doc",))
            metrics.count_objects("outbound", [(e["action"], e["status"]) for e in entries])


_LOG_COLUMNS = ("tenant_id", "id", "job_id", "cycle_id", "activity_at", "action", "status", "source_id", "doc")
