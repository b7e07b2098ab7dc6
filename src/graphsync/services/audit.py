"""Provisioning logs (``/auditLogs/provisioning``): query and retention.

``$filter`` clauses joined with ``and``: ``eq`` and ``ne`` on jobId, cycleId, id, provisioningAction,
provisioningStatusInfo/status (and beta's deprecated action and statusInfo/status) and
sourceIdentity/id; ``eq`` on changeId and servicePrincipal/id; ``eq``, ``ne``, ``gt``, ``ge``,
``lt`` and ``le`` on activityDateTime. Property names are matched without regard to case (Entra's
own Location header writes ``jobid``; Microsoft's CSV2SCIM script pages back through cycles with
``cycleId ne '…'``).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select

from graphsync.engine import logs
from graphsync.errors import BadRequest
from graphsync.services.context import Context
from graphsync.services.filters import MAX_TERMS, too_many_terms
from graphsync.services.paging import Page
from graphsync.store.engine_tables import provisioning_logs

_CLAUSE = re.compile(r"^\s*([A-Za-z/]+)\s+(eq|ne|gt|ge|lt|le)\s+(?:'((?:[^']|'')*)'|([0-9T:.\-+Z]+))\s*$", re.I)
_COLUMNS = {"jobid": "job_id", "cycleid": "cycle_id", "provisioningaction": "action",
            "provisioningstatusinfo/status": "status", "sourceidentity/id": "source_id", "id": "id",
            # beta's deprecated names of the same two (Entra's inbound samples filter on statusInfo/status)
            "action": "action", "statusinfo/status": "status"}
_DOC_PATHS = {"changeid": ("changeId",)}
_OPERATORS = {"ne": "__ne__", "gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__"}


def _conditions(filter_text: str | None):
    """SQL conditions, plus (path, value) pairs checked on the documents."""
    conditions, doc_checks = [], []
    if not filter_text:
        return conditions, doc_checks
    if "\x00" in filter_text:  # PostgreSQL cannot take a NUL in a string
        raise BadRequest("The $filter contains a NUL character.", code="Request_UnsupportedQuery")
    parts = re.split(r"\s+and\s+", filter_text.strip(), flags=re.I)
    if len(parts) > MAX_TERMS:  # an AND chain is as deep as it is long; SQLite refuses 1,000
        raise too_many_terms()
    for part in parts:
        match = _CLAUSE.match(part)
        if not match:
            raise BadRequest(f"Invalid $filter clause '{part}': use e.g. jobId eq '…' or activityDateTime gt 2026-01-01T00:00:00Z.")
        name, operator, quoted, bare = match.group(1).lower(), match.group(2).lower(), match.group(3), match.group(4)
        value = quoted.replace("''", "'") if quoted is not None else bare
        if name == "activitydatetime":
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise BadRequest(f"'{value}' is not a date and time.") from None
            column = provisioning_logs.c.activity_at
            conditions.append(column == moment if operator == "eq" else getattr(column, _OPERATORS[operator])(moment))
        elif name in _COLUMNS and operator in ("eq", "ne"):
            column = getattr(provisioning_logs.c, _COLUMNS[name])
            conditions.append(column == value if operator == "eq" else column != value)
        elif operator != "eq":
            allowed = "eq and ne are" if name in _COLUMNS else "eq is"
            raise BadRequest(f"Only {allowed} supported on '{match.group(1)}'.")
        elif name == "serviceprincipal/id":  # in the stored facts ("sp") or, stored in full, the document's
            doc = provisioning_logs.c.doc
            conditions.append(func.coalesce(doc[("sp", 0)].as_string(),
                                            doc[("servicePrincipal", "id")].as_string()) == value)
        elif name in _DOC_PATHS:
            doc_checks.append((_DOC_PATHS[name], value))
        else:
            raise BadRequest(f"Filtering on '{match.group(1)}' is not supported.")
    return conditions, doc_checks


def _dig(doc: dict, path: tuple[str, ...]):
    for key in path:
        doc = (doc or {}).get(key)
    return doc


def list_logs(ctx: Context, filter_text: str | None, offset: int, limit: int, newest_first: bool = True) -> Page:
    """Entries newest first (Graph's order without $orderby), or oldest first. Ties go by id, in
    the same direction: the entries of one inbound batch share their time and their ids ascend as
    they were written, so either order is the exact reverse of the other."""
    conditions, doc_checks = _conditions(filter_text)
    where = and_(provisioning_logs.c.tenant_id == ctx.tenant_id, *conditions)
    at = provisioning_logs.c.activity_at
    query = select(provisioning_logs.c.doc, provisioning_logs.c.tenant_id, provisioning_logs.c.job_id,
                   provisioning_logs.c.cycle_id).where(where)
    query = query.order_by(at.desc(), provisioning_logs.c.id.desc()) if newest_first else \
        query.order_by(at, provisioning_logs.c.id)
    if doc_checks:  # rare filters: checked on the documents
        docs = [doc for doc in (logs.expand(r.doc, r) for r in ctx.conn.execute(query))
                if all(_dig(doc, path) == value for path, value in doc_checks)]
        chunk = docs[offset:offset + limit]
        return Page(chunk, len(docs), offset + limit if offset + limit < len(docs) else None)
    total = ctx.conn.execute(select(func.count()).select_from(provisioning_logs).where(where)).scalar_one()
    rows = ctx.conn.execute(query.offset(offset).limit(limit)).all()
    return Page([logs.expand(r.doc, r) for r in rows], total, offset + limit if offset + limit < total else None)


def purge(ctx: Context, older_than: timedelta) -> int:
    """Retention: drop this tenant's entries older than ``older_than``."""
    cutoff = ctx.now() - older_than
    return ctx.conn.execute(delete(provisioning_logs).where(provisioning_logs.c.tenant_id == ctx.tenant_id,
                                                            provisioning_logs.c.activity_at < cutoff)).rowcount
