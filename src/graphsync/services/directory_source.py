"""The directory as the engine's source (the ``Source`` port), one short transaction per call,
tried again after a transient database error (store/db.py ``retry_transient``)."""
from __future__ import annotations

from typing import Any, Callable, ContextManager

from graphsync.engine.ports import SourceChange
from graphsync.services import directory
from graphsync.services.context import Context
from graphsync.store.db import retry_transient


class DirectorySource:
    def __init__(self, unit: Callable[[], ContextManager[Context]], service_principal_id: str):
        self._unit = unit
        self.service_principal_id = service_principal_id

    @retry_transient
    def latest_seq(self) -> int:
        with self._unit() as ctx:
            return directory.latest_change_seq(ctx)

    @retry_transient
    def count(self, object_type: str) -> int:
        with self._unit() as ctx:
            return directory.count_users(ctx) if object_type == "user" else directory.count_groups(ctx)

    @retry_transient
    def changes(self, after_seq: int, limit: int) -> list[SourceChange]:
        with self._unit() as ctx:
            return [SourceChange(c.seq, c.object_type, c.object_id, c.change, c.detail)
                    for c in directory.read_changes(ctx, after_seq, limit)]

    @retry_transient
    def page(self, object_type: str, after_id: str | None, size: int) -> list[dict[str, Any]]:
        with self._unit() as ctx:
            if object_type == "user":
                return directory.iter_user_pages(ctx, size, after_id)
            return directory.iter_group_pages(ctx, size, after_id)

    @retry_transient
    def get(self, object_type: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._unit() as ctx:
            if object_type == "user":
                return directory.get_users(ctx, ids, include_deleted=True)
            return directory.get_groups(ctx, ids, include_deleted=True)

    @retry_transient
    def managed_users(self, after_id: str | None, limit: int) -> list[str]:
        with self._unit() as ctx:
            return directory.managed_user_ids(ctx, after_id, limit)

    @retry_transient
    def user_boundaries(self, every: int) -> list[str]:
        """Ids that cut the live users into ranges of about ``every`` (directory.user_id_boundaries)."""
        with self._unit() as ctx:
            return directory.user_id_boundaries(ctx, every)

    @retry_transient
    def members(self, group_id: str) -> list[tuple[str, str]]:
        with self._unit() as ctx:
            return directory.group_member_ids(ctx, group_id)

    @retry_transient
    def members_of(self, group_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
        with self._unit() as ctx:
            return directory.members_of_groups(ctx, group_ids)

    @retry_transient
    def groups_of(self, member_ids: list[str]) -> set[str]:
        with self._unit() as ctx:
            return directory.groups_of_members(ctx, member_ids)

    @retry_transient
    def managers_of(self, user_ids: list[str]) -> dict[str, str]:
        with self._unit() as ctx:
            return directory.managers_of(ctx, user_ids)

    @retry_transient
    def assigned(self) -> tuple[set[str], set[str]]:
        """Users assigned directly or as direct members of an assigned group; assigned groups."""
        with self._unit() as ctx:
            assignments = directory.assignments_to(ctx, self.service_principal_id)
            users = {a["principalId"] for a in assignments if a.get("principalType") == "User"}
            groups = {a["principalId"] for a in assignments if a.get("principalType") == "Group"}
            for group_id in groups:
                users.update(m for m, kind in directory.group_member_ids(ctx, group_id) if kind == "user")
            return users, groups
