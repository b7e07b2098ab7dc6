"""The directory: a tenant's users and groups (a Graph subset), group members, managers and app
role assignments — and the change feed that every write appends to in the same transaction.

The change feed (``directory_changes``) is what the provisioning engine's incremental cycles read:
``read_changes(after_seq=watermark)`` returns exactly the changes committed since the watermark,
in order. That holds because a seq is only ever handed out while holding the tenant's writer lock
(``_serialise_writers``), which is kept until commit: a change with a smaller seq is always
committed before one with a larger seq, so readers never see a gap that fills in later. (SQLite
has a single writer anyway; on PostgreSQL a transaction-scoped advisory lock per tenant does it.)

Deletion follows Entra: deleting a user or group soft-deletes it (``deletedDateTime`` set, hidden
from ``/users``, listed under ``/directory/deletedItems``); it can be restored or hard-deleted.
While an object is soft-deleted its links (memberships, manager, app role assignments) are kept
but not shown, so a restore brings them back; the feed records only ``softDeleted``/``restored``
on the object itself. A hard delete removes the links, recording each removal.

Feed changes (object = the user or group they are about):
    created, updated (detail: sorted list of the changed property names), softDeleted, restored,
    hardDeleted, memberAdded / memberRemoved (object = the group; detail {memberId, memberType}),
    managerChanged (object = the user; detail {managerId}), assignmentAdded / assignmentRemoved
    (object = the principal; detail {resourceId, appRoleId, assignmentId}).
"""
from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError
from sqlalchemy import String, and_, bindparam, column, delete, func, insert, or_, select, text, update, values

from graphsync.directory_models import AppRoleAssignmentBody, GroupBody, UserBody
from graphsync.errors import BadRequest, Conflict, GraphError, not_found
from graphsync.models import format_datetime
from graphsync.services import filters
from graphsync.services.applications import get_service_principal
from graphsync.services.context import Context
from graphsync.services.paging import Page
from graphsync.store.db import among
from graphsync.store.tables import (app_role_assignments, directory_changes, directory_groups, directory_users,
                                    group_members, service_principals)

USER, GROUP = "user", "group"
DEFAULT_APP_ROLE_ID = "00000000-0000-0000-0000-000000000000"

# Every property a user document carries (null when unset), as Graph emits them.
USER_PROPERTIES = (
    "id", "accountEnabled", "businessPhones", "city", "companyName", "country", "createdDateTime",
    "deletedDateTime", "department", "displayName", "employeeHireDate", "employeeId", "employeeLeaveDateTime",
    "employeeOrgData", "employeeType", "faxNumber", "givenName", "jobTitle", "mail", "mailNickname",
    "mobilePhone", "officeLocation", "onPremisesImmutableId", "otherMails", "postalCode", "preferredLanguage",
    "state", "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
)
GROUP_PROPERTIES = (
    "id", "createdDateTime", "deletedDateTime", "description", "displayName", "groupTypes", "mail",
    "mailEnabled", "mailNickname", "securityEnabled", "visibility",
)
# What $filter accepts: eq/startswith on these strings, eq on these booleans.
USER_FILTER_STRINGS = (
    "id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname", "jobTitle",
    "department", "employeeId", "employeeType", "companyName", "officeLocation", "city", "state", "country",
    "postalCode", "usageLocation", "preferredLanguage", "onPremisesImmutableId", "userType",
)
USER_FILTER_BOOLEANS = ("accountEnabled",)
GROUP_FILTER_STRINGS = ("id", "displayName", "description", "mail", "mailNickname")
GROUP_FILTER_BOOLEANS = ("mailEnabled", "securityEnabled")

_UPN = re.compile(r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_NICKNAME_INVALID = re.compile(r"[@()\\\[\]\";:<>,\s]")


# ------------------------------------------------------------------------------------------------
# The change feed

@dataclass(frozen=True)
class Change:
    seq: int
    object_type: str  # 'user' | 'group'
    object_id: str
    change: str
    at: datetime
    detail: Any


def _serialise_writers(ctx: Context) -> None:
    """Take the tenant's directory writer lock for the rest of the transaction (see the module
    docstring). Every write function calls this first, before touching any row."""
    if ctx.conn.dialect.name == "postgresql":
        ctx.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                         {"key": f"graphsync.directory:{ctx.tenant_id}"})


def _record(ctx: Context, object_type: str, object_id: str, change: str, detail: Any = None) -> None:
    ctx.conn.execute(insert(directory_changes).values(tenant_id=ctx.tenant_id, object_type=object_type,
                                                      object_id=object_id, change=change, at=ctx.now(),
                                                      detail=detail))


def _record_many(ctx: Context, changes: list[tuple[str, str, str, Any]]) -> None:
    """Several changes in one statement, in the order given."""
    if changes:
        now, tenant_id = ctx.now(), ctx.tenant_id
        insert_rows(ctx, directory_changes, ("tenant_id", "object_type", "object_id", "change", "at", "detail"),
                    [(tenant_id, object_type, object_id, change, now, detail)
                     for object_type, object_id, change, detail in changes])


def insert_rows(ctx: Context, table, columns: tuple[str, ...], rows: list[tuple], *,
                json_text: tuple[str, ...] = ()) -> None:
    """INSERT many rows without SQLAlchemy's per-row parameter handling (several microseconds a
    row, which batch writers of thousands of rows notice): the driver's executemany on SQLite,
    COPY on PostgreSQL (where an executemany is a statement per row, ~10 us of server time each
    however small the row). Values are what the columns take in Python (datetimes, dicts for
    JSON) and go through the columns' own bind processors, so the rows are stored exactly as
    ``conn.execute(insert(table), …)`` stores them; the ``json_text`` columns take JSON text that
    is already encoded."""
    if not rows:
        return
    dialect = ctx.conn.dialect
    processors = [None if name in json_text else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in columns]
    processed = [(index, process) for index, process in enumerate(processors) if process is not None]
    if processed:
        last: dict[int, tuple[Any, Any]] = {}  # the rows of a batch share their times: convert one once
        converted = []
        for row in rows:
            row = list(row)
            for index, process in processed:
                value = row[index]
                seen = last.get(index)
                if seen is not None and seen[0] is value:
                    row[index] = seen[1]
                else:
                    row[index] = process(value)
                    last[index] = (value, row[index])
            converted.append(tuple(row))
        rows = converted
    quote = dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(quote(c) for c in columns)})"
    if dialect.name == "postgresql":
        with ctx.conn.connection.dbapi_connection.cursor() as cursor, \
                cursor.copy(f"COPY {into} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    ctx.conn.exec_driver_sql(f"INSERT INTO {into} VALUES ({', '.join('?' * len(columns))})", rows)


def latest_change_seq(ctx: Context) -> int:
    """The seq of the tenant's newest change (0 when there is none): a watermark for "now"."""
    seq = ctx.conn.execute(select(func.max(directory_changes.c.seq))
                           .where(directory_changes.c.tenant_id == ctx.tenant_id)).scalar()
    return int(seq or 0)


def read_changes(ctx: Context, after_seq: int, limit: int, object_type: str | None = None) -> list[Change]:
    """The tenant's changes with a seq greater than ``after_seq``, oldest first, at most ``limit``."""
    query = (select(directory_changes)
             .where(directory_changes.c.tenant_id == ctx.tenant_id, directory_changes.c.seq > after_seq)
             .order_by(directory_changes.c.seq).limit(limit))
    if object_type is not None:
        query = query.where(directory_changes.c.object_type == object_type)
    return [Change(r.seq, r.object_type, r.object_id, r.change, _utc(r.at), r.detail) for r in ctx.conn.execute(query)]


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive date-times; everything graphsync writes is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------------------
# Shared helpers

def _validated(model: type[BaseModel], body: BaseModel | dict) -> Any:
    """Writers accept the API's model or a plain dict of Graph properties (the inbound engine)."""
    if isinstance(body, model):
        return body
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        raise BadRequest(f"Invalid {model.__name__}: {problems}.") from None


def _wire(body: BaseModel, exclude: set[str] = frozenset()) -> dict[str, Any]:
    """The properties that were sent, by their Graph names; date-times as Graph writes them."""
    values = body.model_dump(by_alias=True, exclude_unset=True, exclude=set(exclude))
    return {k: format_datetime(v) if isinstance(v, datetime) else v for k, v in values.items()}


def _invalid(prop: str, kind: str) -> BadRequest:
    return BadRequest(f"Invalid value specified for property '{prop}' of resource '{kind}'.",
                      code="Request_BadRequest")


def _nickname(text_: str, fallback: str) -> str:
    cleaned = _NICKNAME_INVALID.sub("", text_)[:64]
    return cleaned or fallback


def _check_nickname(value: str, kind: str) -> None:
    if not value or _NICKNAME_INVALID.search(value):
        raise _invalid("mailNickname", kind)


def _count(ctx: Context, table, where, *, all_live: bool = False) -> int:
    """How many rows match. ``all_live``: ``where`` is the tenant's live rows, unfiltered; SQLite's
    planner would count them through another index of the tenant, reading each row's deleted_at from
    the table (170 ms at 100k users); counted in creation order, it reads the live rows' own partial
    index (migration 0008) and nothing else, 7x faster."""
    if all_live and ctx.conn.dialect.name == "sqlite":
        listed = select(table.c.id).where(where).order_by(table.c.created_at).subquery()
        return ctx.conn.execute(select(func.count()).select_from(listed)).scalar_one()
    return ctx.conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()


def _page(ctx: Context, table, where, offset: int, limit: int, *, count: bool = True, all_live: bool = False) -> Page:
    """A page in creation order. Without ``count`` the total is not computed (it reads every
    matching row); one row more than the page says whether another follows. ``all_live``: see _count."""
    query = select(table.c.doc).where(where).order_by(table.c.created_at, table.c.id).offset(offset)
    if not count:
        rows = ctx.conn.execute(query.limit(limit + 1)).all()
        more = len(rows) > limit
        return Page([r.doc for r in rows[:limit]], None, offset + limit if more else None)
    total = _count(ctx, table, where, all_live=all_live)
    rows = ctx.conn.execute(query.limit(limit)).all()
    return Page([r.doc for r in rows], total, offset + limit if offset + limit < total else None)


def _live(table):
    return table.c.deleted_at.is_(None)


def _docs(ctx: Context, table, ids: Iterable[str], include_deleted: bool) -> dict[str, dict]:
    query = select(table.c.id, table.c.doc).where(table.c.tenant_id == ctx.tenant_id,
                                                  among(ctx.conn, table.c.id, list(dict.fromkeys(ids))))
    if not include_deleted:
        query = query.where(_live(table))
    return {r.id: r.doc for r in ctx.conn.execute(query)}


def typed(doc: dict, object_type: str) -> dict:
    """A document as a directoryObject: with the ``@odata.type`` that tells users from groups."""
    return {"@odata.type": f"#microsoft.graph.{object_type}", **doc}


# ------------------------------------------------------------------------------------------------
# Users

def _user_row(ctx: Context, key: str, *, deleted: bool = False):
    """A live (or, with ``deleted``, a soft-deleted) user by id or, as Graph allows, by UPN."""
    column = directory_users.c.user_principal_name if "@" in key else directory_users.c.id
    state = directory_users.c.deleted_at.is_not(None) if deleted else _live(directory_users)
    row = ctx.conn.execute(select(directory_users).where(directory_users.c.tenant_id == ctx.tenant_id,
                                                         column == (key.lower() if "@" in key else key),
                                                         state)).first()
    if row is None:
        raise not_found("user", key)
    return row


def _upn_format(upn: Any) -> str:
    if not isinstance(upn, str) or not _UPN.match(upn):
        raise BadRequest("The property 'userPrincipalName' must be of the form alias@domain "
                         f"(got '{upn}').", code="Request_BadRequest")
    return upn


def _upn_taken() -> BadRequest:
    return BadRequest("Another object with the same value for property userPrincipalName already exists.",
                      code="Request_BadRequest")


def _check_upn(ctx: Context, upn: Any, user_id: str | None = None) -> str:
    upn = _upn_format(upn)
    taken = ctx.conn.execute(select(directory_users.c.id).where(
        directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.user_principal_name == upn.lower(),
        directory_users.c.id != (user_id or ""))).first()
    if taken is not None:
        raise _upn_taken()
    return upn


def ordered_ids(count: int) -> list[str]:
    """``count`` new ids, ascending: random UUIDs of version 7, whose first 48 bits are the time in
    milliseconds (74 bits stay random). Rows created together then go to the last pages of an
    index on the id instead of to ``count`` random ones, which matters for batches of thousands.
    Spelled from hex text (19 random digits an id, one of them carrying the variant's two bits):
    half the cost of building each one as an integer."""
    stamp = f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}"
    prefix = f"{stamp[:8]}-{stamp[8:]}-7"
    random = os.urandom(10 * count).hex()
    ids = [f"{prefix}{random[i:i + 3]}-{_VARIANT[random[i + 3]]}{random[i + 4:i + 7]}-{random[i + 7:i + 19]}"
           for i in range(0, 20 * count, 20)]
    ids.sort()
    return ids


_VARIANT = {f"{digit:x}": "89ab"[digit & 3] for digit in range(16)}  # 10xx: RFC 9562's variant


_USER_ALIASES = {name: info.alias or name for name, info in UserBody.model_fields.items()}


def _new_user(body: UserBody | dict, now, *, user_id: str | None = None, created: str | None = None) -> dict:
    """A new user's document from a create body, validated as Graph does (UPN uniqueness aside)."""
    body = _validated(UserBody, body)
    values, sent = body.__dict__, body.model_fields_set  # validated values by field name; those sent
    if not (values["display_name"] or "").strip():
        raise BadRequest("The property 'displayName' is required when creating a user.", code="Request_BadRequest")
    upn = values["user_principal_name"]
    if not upn:
        raise BadRequest("The property 'userPrincipalName' is required when creating a user.",
                         code="Request_BadRequest")
    _upn_format(upn)
    doc = dict.fromkeys(USER_PROPERTIES)
    doc.update({"id": user_id or str(uuid.uuid4()), "accountEnabled": True, "businessPhones": [], "otherMails": [],
                "userType": "Member", "createdDateTime": created or format_datetime(now),
                "mailNickname": _nickname(upn.split("@")[0], "user")})
    for name in sent:
        value = values[name]
        kind = value.__class__
        if kind is str or kind is bool:
            pass
        elif value is None or name == "password_profile":
            continue
        elif kind is list:
            value = list(value)
        elif isinstance(value, datetime):
            value = format_datetime(value)
        elif isinstance(value, BaseModel):
            value = value.model_dump(by_alias=True, exclude_unset=True)
        doc[_USER_ALIASES[name]] = value
    _check_nickname(doc["mailNickname"], "User")
    return doc


def create_user(ctx: Context, body: UserBody | dict) -> dict:
    _serialise_writers(ctx)
    doc = _new_user(body, ctx.now())
    _check_upn(ctx, doc["userPrincipalName"])
    _insert_users(ctx, [doc])
    return doc


def create_users(ctx: Context, bodies: list[UserBody | dict],
                 managers: list[str | None] | None = None) -> list[dict | GraphError]:
    """create_user for many bodies in one go (bulk inserts; one query for taken UPNs). Each result
    is the new user's document, or the GraphError that refused that body; the others go on. The
    new ids ascend (``ordered_ids``). ``managers`` (one per body, or None) are set with the insert:
    ids the caller found among ``live_user_ids`` in the same transaction."""
    _serialise_writers(ctx)
    now = ctx.now()
    created = format_datetime(now)
    results: list[dict | GraphError] = []
    for body, user_id in zip(bodies, ordered_ids(len(bodies))):
        try:
            results.append(_new_user(body, now, user_id=user_id, created=created))
        except GraphError as exc:
            results.append(exc)
    wanted = [r["userPrincipalName"].lower() for r in results if isinstance(r, dict)]
    taken = set(ctx.conn.execute(select(directory_users.c.user_principal_name).where(
        directory_users.c.tenant_id == ctx.tenant_id,
        among(ctx.conn, directory_users.c.user_principal_name, wanted))).scalars())
    for index, result in enumerate(results):
        if isinstance(result, dict):
            upn = result["userPrincipalName"].lower()
            if upn in taken:
                results[index] = _upn_taken()
            taken.add(upn)
    _insert_users(ctx, [r for r in results if isinstance(r, dict)],
                  [m for m, r in zip(managers, results) if isinstance(r, dict)] if managers else None)
    return results


def live_user_ids(ctx: Context, ids: list[str]) -> set[str]:
    """Which of ``ids`` are users that exist and are not deleted (one query)."""
    return set(ctx.conn.execute(select(directory_users.c.id).where(
        directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users),
        among(ctx.conn, directory_users.c.id, sorted(set(ids))))).scalars())


def _insert_users(ctx: Context, docs: list[dict], managers: list[str | None] | None = None) -> None:
    """New users; ``managers`` (one per doc) land in the same row, so a user created with a manager
    is written once (its "created" change covers the manager)."""
    if not docs:
        return
    now, tenant_id = ctx.now(), ctx.tenant_id
    managers = managers or [None] * len(docs)
    insert_rows(ctx, directory_users, ("tenant_id", "id", "doc", "user_principal_name", "created_at", "manager_id"),
                [(tenant_id, doc["id"], doc, doc["userPrincipalName"].lower(), now, manager)
                 for doc, manager in zip(docs, managers)])
    _record_many(ctx, [(USER, doc["id"], "created", None) for doc in docs])


def get_user(ctx: Context, user_id: str) -> dict:
    return _user_row(ctx, user_id).doc


def _users_where(ctx: Context, filter_text: str | None):
    return and_(directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users),
                *filters.conditions(directory_users, filter_text, "User", USER_FILTER_STRINGS, USER_FILTER_BOOLEANS))


def list_users(ctx: Context, filter_text: str | None, offset: int, limit: int, count: bool = True) -> Page:
    return _page(ctx, directory_users, _users_where(ctx, filter_text), offset, limit, count=count,
                 all_live=not filter_text)


def count_users(ctx: Context, filter_text: str | None = None) -> int:
    return _count(ctx, directory_users, _users_where(ctx, filter_text), all_live=not filter_text)


def update_user(ctx: Context, user_id: str, body: UserBody | dict) -> list[str]:
    """PATCH semantics: the properties sent replace the stored ones. Returns the changed names."""
    body = _validated(UserBody, body)
    _serialise_writers(ctx)
    row = _user_row(ctx, user_id)
    sent = _wire(body, exclude={"password_profile"})
    for prop in ("accountEnabled", "displayName", "userPrincipalName", "mailNickname", "userType"):
        if prop in sent and (sent[prop] is None or (isinstance(sent[prop], str) and not sent[prop].strip())):
            raise _invalid(prop, "User")
    for prop in ("businessPhones", "otherMails"):
        if prop in sent and sent[prop] is None:
            sent[prop] = []
    if "mailNickname" in sent:
        _check_nickname(sent["mailNickname"], "User")
    if "userPrincipalName" in sent:
        _check_upn(ctx, sent["userPrincipalName"], row.id)
    changed = sorted(p for p, v in sent.items() if row.doc.get(p) != v)
    if changed:
        doc = {**row.doc, **sent}
        ctx.conn.execute(update(directory_users)
                         .where(directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.id == row.id)
                         .values(doc=doc, user_principal_name=doc["userPrincipalName"].lower()))
        _record(ctx, USER, row.id, "updated", changed)
    return changed


def delete_user(ctx: Context, user_id: str) -> None:
    """DELETE /users/{id}: a soft delete (restorable from /directory/deletedItems)."""
    _serialise_writers(ctx)
    row = _user_row(ctx, user_id)
    now = ctx.now()
    ctx.conn.execute(update(directory_users)
                     .where(directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.id == row.id)
                     .values(deleted_at=now, doc={**row.doc, "deletedDateTime": format_datetime(now)}))
    _record(ctx, USER, row.id, "softDeleted")


def find_user_by(ctx: Context, prop: str, value: str) -> dict | None:
    """The live user whose ``prop`` equals ``value`` (case-insensitive, as $filter eq), or None.
    Raises Conflict when more than one user matches (an inbound match must be unambiguous)."""
    if prop not in USER_FILTER_STRINGS:
        raise BadRequest(f"Users cannot be matched on the property '{prop}'.")
    where = and_(directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users),
                 filters.condition(directory_users, filters.Clause(prop, "eq", value)))
    rows = ctx.conn.execute(select(directory_users.c.doc).where(where).limit(2)).all()
    if len(rows) > 1:
        raise Conflict(f"More than one user has {prop} '{value}'.")
    return rows[0].doc if rows else None


def get_users(ctx: Context, ids: list[str], include_deleted: bool = True) -> dict[str, dict]:
    """Users by id (unknown ids are left out); a soft-deleted user's doc has its deletedDateTime."""
    return _docs(ctx, directory_users, ids, include_deleted)


def iter_user_pages(ctx: Context, page_size: int, after_id: str | None = None) -> list[dict]:
    """One page of live users in id order, after ``after_id`` (keyset paging for full cycles)."""
    return _keyset_page(ctx, directory_users, page_size, after_id)


def user_id_boundaries(ctx: Context, every: int) -> list[str]:
    """The id of every ``every``-th live user in id order: where to cut the users into ranges of
    about ``every`` users each (buckets of a large initial cycle). Ids only, numbered by the
    database."""
    numbered = select(directory_users.c.id, func.row_number().over(order_by=directory_users.c.id).label("n")).where(
        directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users)).subquery()
    return list(ctx.conn.execute(select(numbered.c.id).where(numbered.c.n % every == 0)
                                 .order_by(numbered.c.id)).scalars())


def _keyset_page(ctx: Context, table, page_size: int, after_id: str | None) -> list[dict]:
    query = select(table.c.doc).where(table.c.tenant_id == ctx.tenant_id, _live(table))
    if after_id is not None:
        query = query.where(table.c.id > after_id)
    return [r.doc for r in ctx.conn.execute(query.order_by(table.c.id).limit(page_size))]


# ------------------------------------------------------------------------------------------------
# Managers

def manager_id(ctx: Context, user_id: str, include_deleted: bool = False) -> str | None:
    """The user's manager id, or None; a soft-deleted manager counts only with ``include_deleted``."""
    row = ctx.conn.execute(select(directory_users.c.manager_id).where(
        directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.id == user_id)).first()
    if row is None or row.manager_id is None:
        return None
    if not include_deleted and not get_users(ctx, [row.manager_id], include_deleted=False):
        return None
    return row.manager_id


def managers_of(ctx: Context, user_ids: list[str]) -> dict[str, str]:
    """Live managers of many users at once (users without one are left out): the engine's
    reference pass reads a page of users with one query."""
    manager = directory_users.alias("manager")
    rows = ctx.conn.execute(
        select(directory_users.c.id, directory_users.c.manager_id)
        .join(manager, and_(manager.c.tenant_id == directory_users.c.tenant_id,
                            manager.c.id == directory_users.c.manager_id, _live(manager)))
        .where(directory_users.c.tenant_id == ctx.tenant_id, among(ctx.conn, directory_users.c.id, user_ids)))
    return {r.id: r.manager_id for r in rows}


def managed_user_ids(ctx: Context, after_id: str | None, limit: int) -> list[str]:
    """Ids of users that have a manager, in id order after ``after_id`` (keyset paging): the
    users an initial cycle's reference pass may have to give a manager."""
    query = select(directory_users.c.id).where(directory_users.c.tenant_id == ctx.tenant_id,
                                               directory_users.c.manager_id.is_not(None))
    if after_id is not None:
        query = query.where(directory_users.c.id > after_id)
    return list(ctx.conn.execute(query.order_by(directory_users.c.id).limit(limit)).scalars())


def get_manager(ctx: Context, user_id: str) -> dict:
    user = _user_row(ctx, user_id)
    manager = manager_id(ctx, user.id)
    if manager is None:
        raise not_found("manager", user_id)
    return get_users(ctx, [manager])[manager]


def set_manager(ctx: Context, user_id: str, new_manager_id: str | None) -> bool:
    """Set (or, with None, remove) a user's manager. Returns whether anything changed."""
    _serialise_writers(ctx)
    user = _user_row(ctx, user_id)
    if new_manager_id is not None:
        new_manager_id = _user_row(ctx, new_manager_id).id
        if new_manager_id == user.id:
            raise BadRequest("A user cannot be their own manager.", code="Request_BadRequest")
    if user.manager_id == new_manager_id:
        return False
    _set_manager_column(ctx, user.id, new_manager_id)
    return True


def set_managers(ctx: Context, pairs: list[tuple[str, str | None]]) -> list[bool | GraphError]:
    """set_manager for many (user, manager) pairs at once; each result is whether it changed
    something, or the GraphError that refused that pair."""
    _serialise_writers(ctx)
    ids = sorted({i for pair in pairs for i in pair if i})
    managers: dict[str, str | None] = {r.id: r.manager_id for r in ctx.conn.execute(
        select(directory_users.c.id, directory_users.c.manager_id).where(
            directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users),
            among(ctx.conn, directory_users.c.id, ids)))}
    results: list[bool | GraphError] = []
    changed: list[tuple[str, str | None]] = []
    for user_id, manager in pairs:
        if user_id not in managers:
            results.append(not_found("user", user_id))
        elif manager is not None and manager not in managers:
            results.append(not_found("user", manager))
        elif manager == user_id:
            results.append(BadRequest("A user cannot be their own manager.", code="Request_BadRequest"))
        elif managers[user_id] == manager:
            results.append(False)
        else:
            managers[user_id] = manager
            changed.append((user_id, manager))
            results.append(True)
    if changed and ctx.conn.dialect.name == "postgresql":
        for start in range(0, len(changed), 1000):  # PostgreSQL runs an executemany row by row
            wanted = values(column("user_id", String), column("manager_id", String), name="wanted") \
                .data(changed[start:start + 1000])
            ctx.conn.execute(update(directory_users).where(directory_users.c.tenant_id == ctx.tenant_id,
                                                           directory_users.c.id == wanted.c.user_id)
                             .values(manager_id=wanted.c.manager_id))
    elif changed:  # SQLite's executemany is a loop in C over one prepared statement
        ctx.conn.execute(update(directory_users).where(directory_users.c.tenant_id == ctx.tenant_id,
                                                       directory_users.c.id == bindparam("user"))
                         .values(manager_id=bindparam("manager")),
                         [{"user": u, "manager": m} for u, m in changed])
    if changed:
        _record_many(ctx, [(USER, u, "managerChanged", {"managerId": m}) for u, m in changed])
    return results


def remove_manager(ctx: Context, user_id: str) -> None:
    """DELETE /users/{id}/manager/$ref: 404 when the user has no manager."""
    get_manager(ctx, user_id)
    set_manager(ctx, user_id, None)


def _set_manager_column(ctx: Context, user_id: str, new_manager_id: str | None) -> None:
    ctx.conn.execute(update(directory_users)
                     .where(directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.id == user_id)
                     .values(manager_id=new_manager_id))
    _record(ctx, USER, user_id, "managerChanged", {"managerId": new_manager_id})


def list_direct_reports(ctx: Context, user_id: str, offset: int, limit: int) -> Page:
    user = _user_row(ctx, user_id)
    where = and_(directory_users.c.tenant_id == ctx.tenant_id, _live(directory_users),
                 directory_users.c.manager_id == user.id)
    page = _page(ctx, directory_users, where, offset, limit)
    return Page([typed(d, USER) for d in page.items], page.total, page.next_offset)


# ------------------------------------------------------------------------------------------------
# Groups

def _group_row(ctx: Context, group_id: str, *, deleted: bool = False):
    state = directory_groups.c.deleted_at.is_not(None) if deleted else _live(directory_groups)
    row = ctx.conn.execute(select(directory_groups).where(directory_groups.c.tenant_id == ctx.tenant_id,
                                                          directory_groups.c.id == group_id, state)).first()
    if row is None:
        raise not_found("group", group_id)
    return row


def _group_mail(ctx: Context, doc: dict) -> str | None:
    if not doc.get("mailEnabled"):
        return None
    from graphsync.services.tenants import get_tenant
    tenant = get_tenant(ctx.conn, ctx.tenant_id)
    return f"{doc['mailNickname']}@{tenant.default_domain}" if tenant else None


def create_group(ctx: Context, body: GroupBody | dict, member_ids: Iterable[str] = ()) -> dict:
    body = _validated(GroupBody, body)
    _serialise_writers(ctx)
    sent = _wire(body)
    if not (sent.get("displayName") or "").strip():
        raise BadRequest("The property 'displayName' is required when creating a group.", code="Request_BadRequest")
    now = ctx.now()
    doc = dict.fromkeys(GROUP_PROPERTIES)
    doc.update({"id": str(uuid.uuid4()), "groupTypes": [], "mailEnabled": False, "securityEnabled": True,
                "createdDateTime": format_datetime(now)})
    doc["mailNickname"] = _nickname(sent["displayName"], f"group-{doc['id'][:8]}")
    for prop, value in sent.items():
        if value is not None:
            doc[prop] = value
    _check_nickname(doc["mailNickname"], "Group")
    doc["mail"] = _group_mail(ctx, doc)
    ctx.conn.execute(insert(directory_groups).values(tenant_id=ctx.tenant_id, id=doc["id"], doc=doc,
                                                     display_name=doc["displayName"], created_at=now))
    _record(ctx, GROUP, doc["id"], "created")
    for member in member_ids:
        add_member(ctx, doc["id"], member)
    return doc


def get_group(ctx: Context, group_id: str) -> dict:
    return _group_row(ctx, group_id).doc


def _groups_where(ctx: Context, filter_text: str | None):
    return and_(directory_groups.c.tenant_id == ctx.tenant_id, _live(directory_groups),
                *filters.conditions(directory_groups, filter_text, "Group", GROUP_FILTER_STRINGS, GROUP_FILTER_BOOLEANS))


def list_groups(ctx: Context, filter_text: str | None, offset: int, limit: int, count: bool = True) -> Page:
    return _page(ctx, directory_groups, _groups_where(ctx, filter_text), offset, limit, count=count,
                 all_live=not filter_text)


def count_groups(ctx: Context, filter_text: str | None = None) -> int:
    return _count(ctx, directory_groups, _groups_where(ctx, filter_text), all_live=not filter_text)


def update_group(ctx: Context, group_id: str, body: GroupBody | dict) -> list[str]:
    body = _validated(GroupBody, body)
    _serialise_writers(ctx)
    row = _group_row(ctx, group_id)
    sent = _wire(body)
    for prop in ("displayName", "mailNickname", "mailEnabled", "securityEnabled"):
        if prop in sent and (sent[prop] is None or (isinstance(sent[prop], str) and not sent[prop].strip())):
            raise _invalid(prop, "Group")
    if "groupTypes" in sent and sent["groupTypes"] is None:
        sent["groupTypes"] = []
    if "mailNickname" in sent:
        _check_nickname(sent["mailNickname"], "Group")
    doc = {**row.doc, **sent}
    doc["mail"] = _group_mail(ctx, doc) if {"mailNickname", "mailEnabled"} & sent.keys() else row.doc["mail"]
    changed = sorted(p for p in doc if row.doc.get(p) != doc[p])
    if changed:
        ctx.conn.execute(update(directory_groups)
                         .where(directory_groups.c.tenant_id == ctx.tenant_id, directory_groups.c.id == row.id)
                         .values(doc=doc, display_name=doc["displayName"]))
        _record(ctx, GROUP, row.id, "updated", changed)
    return changed


def delete_group(ctx: Context, group_id: str) -> None:
    """DELETE /groups/{id}: a soft delete (restorable from /directory/deletedItems)."""
    _serialise_writers(ctx)
    row = _group_row(ctx, group_id)
    now = ctx.now()
    ctx.conn.execute(update(directory_groups)
                     .where(directory_groups.c.tenant_id == ctx.tenant_id, directory_groups.c.id == row.id)
                     .values(deleted_at=now, doc={**row.doc, "deletedDateTime": format_datetime(now)}))
    _record(ctx, GROUP, row.id, "softDeleted")


def get_groups(ctx: Context, ids: list[str], include_deleted: bool = True) -> dict[str, dict]:
    return _docs(ctx, directory_groups, ids, include_deleted)


def iter_group_pages(ctx: Context, page_size: int, after_id: str | None = None) -> list[dict]:
    return _keyset_page(ctx, directory_groups, page_size, after_id)


# ------------------------------------------------------------------------------------------------
# Group members

def _object_type(ctx: Context, object_id: str, *, deleted: bool = False) -> str:
    """'user' or 'group' for a live (or soft-deleted) object of the tenant; 404 otherwise."""
    for object_type, table in ((USER, directory_users), (GROUP, directory_groups)):
        state = table.c.deleted_at.is_not(None) if deleted else _live(table)
        if ctx.conn.execute(select(table.c.id).where(table.c.tenant_id == ctx.tenant_id, table.c.id == object_id,
                                                     state)).first():
            return object_type
    raise not_found("directoryObject", object_id)


def add_member(ctx: Context, group_id: str, member_id: str) -> None:
    _serialise_writers(ctx)
    group = _group_row(ctx, group_id)
    member_type = _object_type(ctx, member_id)
    if member_id == group.id:
        raise BadRequest("A group cannot be a member of itself.", code="Request_BadRequest")
    exists = ctx.conn.execute(select(group_members.c.member_id).where(
        group_members.c.tenant_id == ctx.tenant_id, group_members.c.group_id == group.id,
        group_members.c.member_id == member_id)).first()
    if exists:
        raise BadRequest("One or more added object references already exist for the following modified "
                         "properties: 'members'.", code="Request_BadRequest")
    ctx.conn.execute(insert(group_members).values(tenant_id=ctx.tenant_id, group_id=group.id, member_id=member_id,
                                                  member_type=member_type))
    _record(ctx, GROUP, group.id, "memberAdded", {"memberId": member_id, "memberType": member_type})


def remove_member(ctx: Context, group_id: str, member_id: str) -> None:
    _serialise_writers(ctx)
    group = _group_row(ctx, group_id)
    row = ctx.conn.execute(select(group_members).where(
        group_members.c.tenant_id == ctx.tenant_id, group_members.c.group_id == group.id,
        group_members.c.member_id == member_id)).first()
    if row is None:
        raise not_found("member", member_id)
    _delete_membership(ctx, row)


def _delete_membership(ctx: Context, row) -> None:
    ctx.conn.execute(delete(group_members).where(group_members.c.tenant_id == ctx.tenant_id,
                                                 group_members.c.group_id == row.group_id,
                                                 group_members.c.member_id == row.member_id))
    _record(ctx, GROUP, row.group_id, "memberRemoved", {"memberId": row.member_id, "memberType": row.member_type})


def _live_member_rows(ctx: Context, include_deleted: bool):
    """group_members rows of the tenant whose member is live (or any, with ``include_deleted``).
    Joined on the member's primary key, so the cost follows the group's size, not the tenant's."""
    query = select(group_members.c.group_id, group_members.c.member_id, group_members.c.member_type).where(
        group_members.c.tenant_id == ctx.tenant_id)
    if include_deleted:
        return query
    member_user = directory_users.alias("member_user")
    member_group = directory_groups.alias("member_group")
    return (query
            .outerjoin(member_user, and_(member_user.c.tenant_id == group_members.c.tenant_id,
                                         member_user.c.id == group_members.c.member_id,
                                         group_members.c.member_type == USER))
            .outerjoin(member_group, and_(member_group.c.tenant_id == group_members.c.tenant_id,
                                          member_group.c.id == group_members.c.member_id,
                                          group_members.c.member_type == GROUP))
            .where(or_(and_(member_user.c.id.is_not(None), _live(member_user)),
                       and_(member_group.c.id.is_not(None), _live(member_group)))))


def members_of_groups(ctx: Context, group_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Live direct members of many groups at once: group id → [(member_id, member_type)]."""
    found: dict[str, list[tuple[str, str]]] = {group_id: [] for group_id in group_ids}
    for start in range(0, len(group_ids), 500):
        query = _live_member_rows(ctx, False).where(group_members.c.group_id.in_(group_ids[start:start + 500]))
        for row in ctx.conn.execute(query.order_by(group_members.c.member_id)):
            found[row.group_id].append((row.member_id, row.member_type))
    return found


def group_member_ids(ctx: Context, group_id: str, include_deleted: bool = False) -> list[tuple[str, str]]:
    """(member_id, member_type) of the group's direct members, by id; [] for an unknown group.
    Works for a soft-deleted group too; soft-deleted members count only with ``include_deleted``."""
    query = _live_member_rows(ctx, include_deleted).where(group_members.c.group_id == group_id)
    return [(r.member_id, r.member_type) for r in ctx.conn.execute(query.order_by(group_members.c.member_id))]


def groups_of_member(ctx: Context, member_id: str, include_deleted: bool = False) -> list[str]:
    """Ids of the groups the object is a direct member of (live groups unless ``include_deleted``),
    whatever the member's own state."""
    query = select(group_members.c.group_id).where(group_members.c.tenant_id == ctx.tenant_id,
                                                   group_members.c.member_id == member_id)
    if not include_deleted:
        live = select(directory_groups.c.id).where(directory_groups.c.tenant_id == ctx.tenant_id,
                                                   _live(directory_groups))
        query = query.where(group_members.c.group_id.in_(live))
    return [r.group_id for r in ctx.conn.execute(query.order_by(group_members.c.group_id))]


def groups_of_members(ctx: Context, member_ids: list[str]) -> set[str]:
    """Live groups that have any of the objects as a direct member (one query per 500 ids)."""
    live = select(directory_groups.c.id).where(directory_groups.c.tenant_id == ctx.tenant_id, _live(directory_groups))
    found: set[str] = set()
    for start in range(0, len(member_ids), 500):
        rows = ctx.conn.execute(select(group_members.c.group_id).where(
            group_members.c.tenant_id == ctx.tenant_id, group_members.c.member_id.in_(member_ids[start:start + 500]),
            group_members.c.group_id.in_(live)).distinct())
        found.update(r.group_id for r in rows)
    return found


def list_members(ctx: Context, group_id: str, offset: int, limit: int) -> Page:
    group = _group_row(ctx, group_id)
    rows = _live_member_rows(ctx, False).where(group_members.c.group_id == group.id).subquery()
    total = ctx.conn.execute(select(func.count()).select_from(rows)).scalar_one()
    chunk = ctx.conn.execute(select(rows).order_by(rows.c.member_id).offset(offset).limit(limit)).all()
    return Page(_typed_objects(ctx, [(r.member_id, r.member_type) for r in chunk]), total,
                offset + limit if offset + limit < total else None)


def list_member_of(ctx: Context, object_type: str, object_id: str, offset: int, limit: int) -> Page:
    """GET /users/{id}/memberOf and /groups/{id}/memberOf: the live groups it is a direct member of."""
    row = _user_row(ctx, object_id) if object_type == USER else _group_row(ctx, object_id)
    ids = groups_of_member(ctx, row.id)
    chunk = ids[offset:offset + limit]
    return Page(_typed_objects(ctx, [(i, GROUP) for i in chunk]), len(ids),
                offset + limit if offset + limit < len(ids) else None)


def _typed_objects(ctx: Context, refs: list[tuple[str, str]]) -> list[dict]:
    docs = {USER: get_users(ctx, [i for i, t in refs if t == USER]),
            GROUP: get_groups(ctx, [i for i, t in refs if t == GROUP])}
    return [typed(docs[t][i], t) for i, t in refs if i in docs[t]]


# ------------------------------------------------------------------------------------------------
# App role assignments (of users and groups to a service principal)

def _assignment_docs(ctx: Context, rows) -> list[dict]:
    rows = list(rows)
    users = get_users(ctx, [r.principal_id for r in rows if r.principal_type == "User"])
    groups = get_groups(ctx, [r.principal_id for r in rows if r.principal_type == "Group"])
    resources = {r.id: r.doc for r in ctx.conn.execute(select(service_principals.c.id, service_principals.c.doc).where(
        service_principals.c.tenant_id == ctx.tenant_id,
        service_principals.c.id.in_({r.resource_id for r in rows})))}
    docs = []
    for r in rows:
        principal = (users if r.principal_type == "User" else groups).get(r.principal_id, {})
        docs.append({
            "id": r.id,
            "appRoleId": r.app_role_id,
            "createdDateTime": format_datetime(r.created_at),
            "deletedDateTime": None,
            "principalDisplayName": principal.get("displayName"),
            "principalId": r.principal_id,
            "principalType": r.principal_type,
            "resourceDisplayName": resources.get(r.resource_id, {}).get("displayName"),
            "resourceId": r.resource_id,
        })
    return docs


def _live_principal(ctx: Context, query, include_deleted: bool):
    if include_deleted:
        return query
    live_users = select(directory_users.c.id).where(directory_users.c.tenant_id == ctx.tenant_id,
                                                    _live(directory_users))
    live_groups = select(directory_groups.c.id).where(directory_groups.c.tenant_id == ctx.tenant_id,
                                                      _live(directory_groups))
    c = app_role_assignments.c
    return query.where(or_(and_(c.principal_type == "User", c.principal_id.in_(live_users)),
                           and_(c.principal_type == "Group", c.principal_id.in_(live_groups))))


def create_assignment(ctx: Context, service_principal_id: str, body: AppRoleAssignmentBody | dict) -> dict:
    """POST /servicePrincipals/{id}/appRoleAssignedTo: assign a user or group an app role."""
    body = _validated(AppRoleAssignmentBody, body)
    _serialise_writers(ctx)
    sp = get_service_principal(ctx, service_principal_id)
    if body.resource_id != sp["id"]:
        raise BadRequest(f"The resourceId '{body.resource_id}' must be the id of the service principal in the "
                         f"request URL ('{sp['id']}').", code="Request_BadRequest")
    declared = {r.get("id") for r in sp.get("appRoles") or []}
    if body.app_role_id != DEFAULT_APP_ROLE_ID and body.app_role_id not in declared:
        raise BadRequest(f"Permission being assigned was not found on application '{sp['appId']}'.",
                         code="Request_BadRequest")
    principal_type = {USER: "User", GROUP: "Group"}[_object_type(ctx, body.principal_id)]
    c = app_role_assignments.c
    duplicate = ctx.conn.execute(select(c.id).where(c.tenant_id == ctx.tenant_id, c.principal_id == body.principal_id,
                                                    c.resource_id == sp["id"],
                                                    c.app_role_id == body.app_role_id)).first()
    if duplicate:
        raise BadRequest("Permission being assigned already exists on the object.", code="Request_BadRequest")
    assignment_id = secrets.token_urlsafe(32)
    ctx.conn.execute(insert(app_role_assignments).values(
        tenant_id=ctx.tenant_id, id=assignment_id, principal_id=body.principal_id, principal_type=principal_type,
        resource_id=sp["id"], app_role_id=body.app_role_id, created_at=ctx.now()))
    _record(ctx, principal_type.lower(), body.principal_id, "assignmentAdded",
            {"resourceId": sp["id"], "appRoleId": body.app_role_id, "assignmentId": assignment_id})
    return _assignment_docs(ctx, ctx.conn.execute(select(app_role_assignments).where(
        c.tenant_id == ctx.tenant_id, c.id == assignment_id)))[0]


def list_assignments_to(ctx: Context, service_principal_id: str, offset: int, limit: int) -> Page:
    get_service_principal(ctx, service_principal_id)
    return _assignments_page(ctx, app_role_assignments.c.resource_id == service_principal_id, offset, limit)


def list_assignments_of(ctx: Context, object_type: str, object_id: str, offset: int, limit: int) -> Page:
    """GET /users/{id}/appRoleAssignments (and /groups/{id}/...): what the principal is assigned."""
    row = _user_row(ctx, object_id) if object_type == USER else _group_row(ctx, object_id)
    return _assignments_page(ctx, app_role_assignments.c.principal_id == row.id, offset, limit)


def _assignments_page(ctx: Context, condition, offset: int, limit: int) -> Page:
    c = app_role_assignments.c
    query = _live_principal(ctx, select(app_role_assignments).where(c.tenant_id == ctx.tenant_id, condition), False)
    rows = query.subquery()
    total = ctx.conn.execute(select(func.count()).select_from(rows)).scalar_one()
    chunk = ctx.conn.execute(select(rows).order_by(rows.c.created_at, rows.c.id).offset(offset).limit(limit)).all()
    return Page(_assignment_docs(ctx, chunk), total, offset + limit if offset + limit < total else None)


def assignments_to(ctx: Context, service_principal_id: str, include_deleted: bool = False) -> list[dict]:
    """Every assignment to the service principal (Graph appRoleAssignment docs), oldest first;
    those of soft-deleted principals only with ``include_deleted``."""
    c = app_role_assignments.c
    query = select(app_role_assignments).where(c.tenant_id == ctx.tenant_id, c.resource_id == service_principal_id)
    query = _live_principal(ctx, query, include_deleted).order_by(c.created_at, c.id)
    return _assignment_docs(ctx, ctx.conn.execute(query))


def delete_assignment(ctx: Context, service_principal_id: str, assignment_id: str) -> None:
    _serialise_writers(ctx)
    get_service_principal(ctx, service_principal_id)
    c = app_role_assignments.c
    row = ctx.conn.execute(select(app_role_assignments).where(c.tenant_id == ctx.tenant_id, c.id == assignment_id,
                                                              c.resource_id == service_principal_id)).first()
    if row is None:
        raise not_found("appRoleAssignment", assignment_id)
    _delete_assignment_row(ctx, row)


def delete_assignments_to(ctx: Context, service_principal_id: str) -> None:
    """When a service principal is deleted: its assignments go too, each recorded in the feed."""
    _serialise_writers(ctx)
    c = app_role_assignments.c
    for row in ctx.conn.execute(select(app_role_assignments).where(
            c.tenant_id == ctx.tenant_id, c.resource_id == service_principal_id).order_by(c.created_at, c.id)).all():
        _delete_assignment_row(ctx, row)


def _delete_assignment_row(ctx: Context, row) -> None:
    c = app_role_assignments.c
    ctx.conn.execute(delete(app_role_assignments).where(c.tenant_id == ctx.tenant_id, c.id == row.id))
    _record(ctx, row.principal_type.lower(), row.principal_id, "assignmentRemoved",
            {"resourceId": row.resource_id, "appRoleId": row.app_role_id, "assignmentId": row.id})


# ------------------------------------------------------------------------------------------------
# Deleted items: list, get, restore, hard delete

def list_deleted(ctx: Context, object_type: str, offset: int, limit: int) -> Page:
    table = directory_users if object_type == USER else directory_groups
    where = and_(table.c.tenant_id == ctx.tenant_id, table.c.deleted_at.is_not(None))
    return _page(ctx, table, where, offset, limit)


def deleted_item_type(ctx: Context, object_id: str) -> str:
    """'user' or 'group' for a soft-deleted object; 404 when nothing by that id is deleted."""
    return _object_type(ctx, object_id, deleted=True)


def get_deleted_item(ctx: Context, object_id: str) -> dict:
    object_type = deleted_item_type(ctx, object_id)
    row = _user_row(ctx, object_id, deleted=True) if object_type == USER else _group_row(ctx, object_id, deleted=True)
    return typed(row.doc, object_type)


def restore_deleted_item(ctx: Context, object_id: str) -> dict:
    _serialise_writers(ctx)
    object_type = deleted_item_type(ctx, object_id)
    table = directory_users if object_type == USER else directory_groups
    row = _user_row(ctx, object_id, deleted=True) if object_type == USER else _group_row(ctx, object_id, deleted=True)
    doc = {**row.doc, "deletedDateTime": None}
    ctx.conn.execute(update(table).where(table.c.tenant_id == ctx.tenant_id, table.c.id == object_id)
                     .values(deleted_at=None, doc=doc))
    _record(ctx, object_type, object_id, "restored")
    return typed(doc, object_type)


def hard_delete_item(ctx: Context, object_id: str) -> None:
    """DELETE /directory/deletedItems/{id}: gone for good, with its memberships (both ways), the
    manager links pointing at it and its app role assignments — each removal recorded."""
    _serialise_writers(ctx)
    object_type = deleted_item_type(ctx, object_id)
    gm = group_members.c
    memberships = ctx.conn.execute(select(group_members).where(
        gm.tenant_id == ctx.tenant_id, or_(gm.member_id == object_id, gm.group_id == object_id))
        .order_by(gm.group_id, gm.member_id)).all()
    for row in memberships:
        _delete_membership(ctx, row)
    if object_type == USER:
        reports = ctx.conn.execute(select(directory_users.c.id).where(
            directory_users.c.tenant_id == ctx.tenant_id, directory_users.c.manager_id == object_id)
            .order_by(directory_users.c.id)).all()
        for report in reports:
            _set_manager_column(ctx, report.id, None)
    c = app_role_assignments.c
    for row in ctx.conn.execute(select(app_role_assignments).where(
            c.tenant_id == ctx.tenant_id, c.principal_id == object_id).order_by(c.created_at, c.id)).all():
        _delete_assignment_row(ctx, row)
    table = directory_users if object_type == USER else directory_groups
    ctx.conn.execute(delete(table).where(table.c.tenant_id == ctx.tenant_id, table.c.id == object_id))
    _record(ctx, object_type, object_id, "hardDeleted")


# ------------------------------------------------------------------------------------------------
# Delta queries (/users/delta, /groups/delta) on top of the change feed

@dataclass(frozen=True)
class DeltaPage:
    items: list[dict]
    state: dict  # where the next request continues: {"seq": S} or {"seq": S, "after": id} (initial round)
    final: bool  # True: the round is complete (deltaLink); False: more pages follow (nextLink)


def delta(ctx: Context, object_type: str, state: dict | None, page_size: int) -> DeltaPage:
    """One page of a delta round. Without ``state``: the initial round (every live object, paged
    by id; the watermark is taken first so nothing committed meanwhile is lost). With
    ``{"seq": S}``: the objects with changes after S — current docs, or
    ``{"id", "@removed": {"reason": "changed"}}`` when soft-deleted, ``"deleted"`` when gone."""
    if state is None or "after" in state:
        seq = latest_change_seq(ctx) if state is None else state["seq"]
        docs = _keyset_page(ctx, _table(object_type), page_size + 1, state.get("after") if state else None)
        more = len(docs) > page_size
        docs = docs[:page_size]
        if object_type == GROUP:
            docs = [{**d, "members@delta": _members_delta_full(ctx, d["id"])} for d in docs]
        if more:
            return DeltaPage(docs, {"seq": seq, "after": docs[-1]["id"]}, False)
        return DeltaPage(docs, {"seq": seq}, True)
    return _changes_page(ctx, object_type, int(state["seq"]), page_size)


def _table(object_type: str):
    return directory_users if object_type == USER else directory_groups


def _members_delta_full(ctx: Context, group_id: str) -> list[dict]:
    return [_member_delta(m, t, True) for m, t in group_member_ids(ctx, group_id)]


def _member_delta(member_id: str, member_type: str, present: bool) -> dict:
    entry = {"@odata.type": f"#microsoft.graph.{member_type}", "id": member_id}
    return entry if present else {**entry, "@removed": {"reason": "deleted"}}


def _changes_page(ctx: Context, object_type: str, after_seq: int, page_size: int) -> DeltaPage:
    order: list[str] = []
    member_changes: dict[str, dict[str, tuple[str, bool]]] = {}  # group -> member -> (type, present)
    cursor, final = after_seq, True
    while True:
        batch = read_changes(ctx, cursor, 500, object_type)
        for change in batch:
            if change.object_id not in order:
                if len(order) == page_size:
                    final = False
                    break
                order.append(change.object_id)
            if change.change in ("memberAdded", "memberRemoved"):
                member_changes.setdefault(change.object_id, {})[change.detail["memberId"]] = (
                    change.detail["memberType"], change.change == "memberAdded")
            cursor = change.seq
        if not final or len(batch) < 500:
            break
    current = _docs(ctx, _table(object_type), order, include_deleted=True)
    items = []
    for object_id in order:
        doc = current.get(object_id)
        if doc is None or doc.get("deletedDateTime"):
            items.append({"id": object_id, "@removed": {"reason": "deleted" if doc is None else "changed"}})
            continue
        if object_type == GROUP and object_id in member_changes:
            doc = {**doc, "members@delta": [_member_delta(m, t, present)
                                            for m, (t, present) in member_changes[object_id].items()]}
        items.append(doc)
    return DeltaPage(items, {"seq": cursor}, final)
