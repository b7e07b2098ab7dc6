"""parseExpression: parse an attribute-mapping expression and, given a test object, evaluate it.

Parse and evaluation failures are answers (200 with ``parsingSucceeded``/``evaluationSucceeded``
false and ``error`` filled), not HTTP errors, as in Entra; so is an evaluation that runs over
its limits (``expressions.limits``: a regular expression's time budget, the size of the values
it builds).

What the answer needs from the database (that the schema exists, the tenant's default domain)
is read in a short read-only unit; parsing and evaluating happen after it closed. An expression
is the caller's own code: it must not run inside a transaction, where on SQLite it would hold
the process-wide write lock (every tenant's writes and the engine waiting on it) for as long as
it runs.
"""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from typing import Any, Iterator

from graphsync import expressions
from graphsync.errors import TooManyRequests
from graphsync.models import ParseExpressionBody
from graphsync.services import schemas_of
from graphsync.services.context import Context
from graphsync.services.synchronization import Owner, RootKind, resolve_owner
from graphsync.services.tenants import get_tenant


EVALUATIONS_PER_TENANT = 4  # evaluations of one tenant at a time in this process; more answer 429
_evaluating: Counter[str] = Counter()
_evaluating_lock = threading.Lock()


@contextmanager
def _turn(tenant_id: str) -> Iterator[None]:
    """One of the tenant's evaluation slots. A test object's evaluation may run for its whole
    time budget (a second of regex): without a bound, one tenant's flood of them would take every
    thread the server runs blocking calls in."""
    with _evaluating_lock:
        if _evaluating[tenant_id] >= EVALUATIONS_PER_TENANT:
            raise TooManyRequests(f"At most {EVALUATIONS_PER_TENANT} parseExpression requests of a tenant are "
                                  "evaluated at a time; retry in a second.", headers={"Retry-After": "1"})
        _evaluating[tenant_id] += 1
    try:
        yield
    finally:
        with _evaluating_lock:
            _evaluating[tenant_id] -= 1
            if not _evaluating[tenant_id]:
                del _evaluating[tenant_id]


def _error(code: str, message: str, target: str) -> dict[str, Any]:
    return {"code": code, "message": message, "target": target, "details": [], "innerError": None}


def parse_expression(runtime, tenant_id: str, root: RootKind, owner_id: str, parent: str, parent_id: str,
                     body: ParseExpressionBody) -> dict[str, Any]:
    """The ``parseExpressionResponse`` for ``body`` against the schema of job or template
    ``parent_id`` (404 when there is none). Blocking: call it off the event loop."""
    with runtime.unit(tenant_id, read_only=True) as ctx:
        context = evaluation_context(ctx, resolve_owner(ctx, root, owner_id), parent, parent_id)
    if body.test_input_object is None:  # parsing alone is linear in the expression's length
        return answer(body, context)
    with _turn(tenant_id):
        return answer(body, context)


def evaluation_context(ctx: Context, owner: Owner, parent: str, parent_id: str) -> expressions.EvaluationContext:
    """What evaluating against the schema of ``parent_id`` needs from the database (404 when the
    schema does not exist)."""
    schemas_of.get_schema(ctx, owner, parent, parent_id)
    tenant = get_tenant(ctx.conn, ctx.tenant_id)
    return expressions.EvaluationContext(clock=ctx.clock.now, default_domain=tenant.default_domain if tenant else "")


def answer(body: ParseExpressionBody, context: expressions.EvaluationContext) -> dict[str, Any]:
    """Parse ``body.expression`` and evaluate it against ``body.testInputObject`` (no I/O)."""
    result: dict[str, Any] = {"error": None, "evaluationResult": None, "evaluationSucceeded": False,
                              "parsedExpression": None, "parsingSucceeded": False}
    try:
        node = expressions.parse(body.expression)
    except expressions.ExpressionError as exc:
        result["error"] = _error("InvalidExpression", str(exc), "expression")
        return result
    result["parsingSucceeded"] = True
    result["parsedExpression"] = expressions.to_source(node)
    test = body.test_input_object
    if test is None:
        return result
    attributes = {str(p.get("key")): p.get("value") for p in test.properties or [] if p.get("key") is not None}
    try:
        value = expressions.evaluate(node, attributes, context)
    except (expressions.ExpressionError, expressions.EvaluationError) as exc:
        result["error"] = _error("EvaluationFailed", str(exc), "testInputObject")
        return result
    result["evaluationSucceeded"] = True
    shown = expressions.for_log(value)  # a Redact()ed value is not echoed in clear
    result["evaluationResult"] = [] if shown is expressions.IGNORE_FLOW else expressions.to_strings(shown)
    return result
