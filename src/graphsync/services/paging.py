"""Keyset-free, simple paging helpers shared by the list services."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int | None  # None: not counted (no $count asked)
    next_offset: int | None
