"""What the engine talks to. The engine does no SQL and no HTTP itself: it gets a source (the
directory), a target (a SCIM client) and a state store, so a cycle runs the same against
PostgreSQL and a real SCIM server as against in-memory fakes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

ObjectType = str  # "user" | "group"


@dataclass(frozen=True)
class SourceChange:
    seq: int
    object_type: ObjectType
    object_id: str
    change: str
    detail: dict[str, Any] | None


class Source(Protocol):
    def latest_seq(self) -> int: ...
    def count(self, object_type: ObjectType) -> int: ...
    def changes(self, after_seq: int, limit: int) -> list[SourceChange]: ...
    def page(self, object_type: ObjectType, after_id: str | None, size: int) -> list[dict[str, Any]]: ...
    def get(self, object_type: ObjectType, ids: list[str]) -> dict[str, dict[str, Any]]: ...
    def members(self, group_id: str) -> list[tuple[str, str]]: ...
    def members_of(self, group_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        """group id → its direct members (member_id, member_type), for many groups at once."""
        ...

    def groups_of(self, member_ids: list[str]) -> set[str]:
        """Groups that have any of these objects as a direct member."""
        ...

    def managed_users(self, after_id: str | None, limit: int) -> list[str]:
        """Ids of users that have a manager, in id order after ``after_id``."""
        ...

    def managers_of(self, user_ids: list[str]) -> dict[str, str]:
        """user id → manager id, for the users that have a (live) manager."""
        ...

    def assigned(self) -> tuple[set[str], set[str]]:
        """(ids of users in assignment scope: direct or via an assigned group, ids of assigned groups)."""
        ...


@dataclass
class Link:
    """The connector data store entry of one source object."""

    object_type: ObjectType
    source_id: str
    target_id: str
    exported: dict[str, Any] = field(default_factory=dict)


@dataclass
class Escrow:
    object_type: ObjectType
    source_id: str
    attempts: int
    first_failure: datetime
    next_attempt: datetime
    error_code: str
    error_message: str


class StateStore(Protocol):
    def commit(self, *, links: list[Link] = (), dropped: list[tuple[ObjectType, str]] = (),
               cleared: list[tuple[ObjectType, str]] = (), escrows: list[Escrow] = (),
               logs: list[dict[str, Any]] = ()) -> None:
        """A page's outcome, all or nothing: links saved and dropped, escrows cleared (by key) and
        saved, log entries written."""
        ...

    def links(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, Link]: ...
    def link_ids(self, object_type: ObjectType, after: str | None, upto: str | None,
                 limit: int | None = None) -> list[str]:
        """Linked source ids in order, ``after`` < id <= ``upto`` (None: unbounded)."""
        ...

    def target_ids(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, str]: ...
    def display_names(self, object_type: ObjectType, source_ids: list[str]) -> dict[str, str]:
        """Linked source id → the displayName last exported for it (for log entries)."""
        ...

    def save_links(self, links: list[Link]) -> None: ...
    def drop_links(self, object_type: ObjectType, source_ids: list[str]) -> None: ...
    def escrows_due(self, now: datetime) -> list[Escrow]: ...
    def save_escrows(self, escrows: list[Escrow]) -> None: ...
    def clear_escrows(self, keys: list[tuple[ObjectType, str]]) -> None: ...
    def write_logs(self, entries: list[dict[str, Any]]) -> None: ...
