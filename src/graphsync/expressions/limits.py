"""What one evaluation may spend: time in regular expressions, size of the values it builds.

An expression comes from whoever may write a schema or call parseExpression, and runs in the
server process beside every other tenant's requests and jobs. Before these limits
``Replace([x], , "(a+)+$", , "", , )`` against ``"aaaa…ab"`` backtracked for hours while
holding the GIL (and, in parseExpression, the database's write lock): the whole server froze.
Exceeding a limit raises ``LimitExceeded``, an ``EvaluationError``: the object fails (the engine
escrows it) or parseExpression answers ``evaluationSucceeded: false``; nothing else waits.

The budget is per thread: evaluation is synchronous, so a thread runs one evaluation at a time.
The evaluator restarts it (``start``) for each evaluation of an expression that calls a
function drawing on it (``FunctionSpec.limited``), scoping filters for each object.
"""
from __future__ import annotations

import threading

from .errors import EvaluationError

REGEX_TIMEOUT = 0.5
"""Seconds one regular-expression call (one Replace, one REGEX MATCH clause) may run. Real
patterns on attribute values finish in microseconds, so no legitimate mapping comes near it;
a catastrophically backtracking one gives up after half a second of one thread. Matching runs
with the GIL released (``regex``'s ``concurrent=True``), so other requests go on meanwhile."""

EVALUATION_REGEX_BUDGET = 1.0
"""Seconds all regular-expression calls of one evaluation may run together: without it an
expression of many Replace calls, or one Replace over a multi-valued attribute of many values,
would multiply ``REGEX_TIMEOUT``."""

MAX_VALUE_CHARS = 1 << 20
"""Characters one string built by a function may have: 1 Mi. Directory and SCIM attribute values
are rarely more than a few thousand characters, so a real mapping never builds one this large; without a cap nested
``Replace``, ``Join`` or ``ConvertToUTF8Hex`` calls multiply a value's size at each level
(``Replace`` with a template squares it) until the process runs out of memory."""

MAX_BUILT_CHARS = 8 << 20
"""Characters all values built by one evaluation may have together: 8 Mi (8 to 32 MB of
strings). ``MAX_VALUE_CHARS`` bounds each value; this bounds how many of them an expression of
up to 10,000 characters can hold at once (``Join`` of hundreds of ``Append([big], "")``)."""

UNCOUNTED = 4096
"""Values up to this size are not counted against ``MAX_BUILT_CHARS``: counting costs a
thread-local lookup, and an expression of 10,000 characters builds at most a few thousand
values, a few MB of such small ones."""


class LimitExceeded(EvaluationError):
    """An evaluation ran over one of its limits (see ``graphsync.expressions.limits``)."""


_local = threading.local()


def start() -> None:
    """Begin an evaluation: this thread's budget is full again (filled on first use)."""
    _local.budget = None


def _budget() -> list:
    """``[regex seconds left, characters built]`` of the evaluation under way in this thread."""
    budget = getattr(_local, "budget", None)
    if budget is None:
        budget = _local.budget = [EVALUATION_REGEX_BUDGET, 0]
    return budget


def regex_timeout() -> float:
    """The timeout for the next regular-expression call: ``REGEX_TIMEOUT`` or what is left of
    the evaluation's budget, whichever is less. Raises ``LimitExceeded`` when nothing is left."""
    left = _budget()[0]
    if left <= 0:
        raise LimitExceeded(f"the regular expressions of this evaluation took longer than "
                            f"{EVALUATION_REGEX_BUDGET:g} s in all (its time budget)")
    return min(REGEX_TIMEOUT, left)


def regex_spent(seconds: float) -> None:
    _budget()[0] -= seconds


def regex_timed_out(pattern: str, timeout: float) -> LimitExceeded:
    """The error for a regular-expression call that used up ``timeout``."""
    shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
    if timeout < REGEX_TIMEOUT:
        return LimitExceeded(f"the regular expression {shown!r} ran out of the {EVALUATION_REGEX_BUDGET:g} s "
                             f"all regular expressions of one evaluation may take (their time budget)")
    return LimitExceeded(f"the regular expression {shown!r} took longer than {REGEX_TIMEOUT:g} s "
                         f"(its time budget)")


def charge(function: str, size: int) -> None:
    """``function`` is about to build a value of ``size`` characters: allowed, or ``LimitExceeded``.
    Call it before building, so an oversized value is never allocated."""
    if size <= UNCOUNTED:
        return
    if size > MAX_VALUE_CHARS:
        raise LimitExceeded(f"{function}: the value would have {size:,} characters, more than the "
                            f"{MAX_VALUE_CHARS:,} a value may have")
    budget = _budget()
    budget[1] += size
    if budget[1] > MAX_BUILT_CHARS:
        raise LimitExceeded(f"{function}: this evaluation built more than {MAX_BUILT_CHARS:,} characters "
                            f"of values in all")
