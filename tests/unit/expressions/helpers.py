"""Shared helpers for the expression tests."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any, Mapping

from graphsync.expressions import EvaluationContext, evaluate, parse

FIXED_NOW = datetime(2021, 7, 2, 15, 33, 38, tzinfo=timezone.utc)


def context(**overrides: Any) -> EvaluationContext:
    """A deterministic context: fixed clock, seeded RNG, default domain contoso.com."""
    values: dict[str, Any] = {"clock": lambda: FIXED_NOW, "rng": random.Random(1234),
                              "default_domain": "contoso.com"}
    values.update(overrides)
    return EvaluationContext(**values)


def run(expression: str, attributes: Mapping[str, Any] | None = None, ctx: EvaluationContext | None = None) -> Any:
    """Parse and evaluate ``expression`` with a deterministic context."""
    return evaluate(parse(expression), attributes or {}, ctx if ctx is not None else context())
