"""Keyset-free, simple paging helpers shared by the list services."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    next_offset: int | None
