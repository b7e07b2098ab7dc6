"""What an evaluation may depend on besides the attribute values: time, randomness, the
tenant's default domain and the target directory (for SelectUniqueValue). The caller
passes it in, so evaluation itself stays pure and testable."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class EvaluationContext:
    """``clock`` returns an aware UTC datetime (Now, DateDiff with Now()); ``rng`` feeds Guid and
    RandomString (default: the OS CSPRNG, as RandomString is used for passwords);
    ``default_domain`` is returned by DefaultDomain(); ``value_exists(value)`` tells
    SelectUniqueValue whether a candidate is already taken in the target (None: nothing is)."""

    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.SystemRandom)
    default_domain: str | None = None
    value_exists: Callable[[str], bool] | None = None
