"""parseExpression: parse an attribute-mapping expression and, given a test object, evaluate it.

Parse and evaluation failures are answers (200 with ``parsingSucceeded``/``evaluationSucceeded``
false and ``error`` filled), not HTTP errors, as in Entra.
"""
from __future__ import annotations

from typing import Any

from graphsync import expressions
from graphsync.models import ParseExpressionBody
from graphsync.services import schemas_of
from graphsync.services.context import Context
from graphsync.services.synchronization import Owner
from graphsync.services.tenants import get_tenant


def _error(code: str, message: str, target: str) -> dict[str, Any]:
    return {"code": code, "message": message, "target": target, "details": [], "innerError": None}


def parse_expression(ctx: Context, owner: Owner, parent: str, parent_id: str,
                     body: ParseExpressionBody) -> dict[str, Any]:
    schemas_of.get_schema(ctx, owner, parent, parent_id)  # the schema must exist (404 otherwise)
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
    tenant = get_tenant(ctx.conn, ctx.tenant_id)
    context = expressions.EvaluationContext(clock=ctx.clock.now, default_domain=tenant.default_domain if tenant else "")
    try:
        value = expressions.evaluate(node, attributes, context)
    except (expressions.ExpressionError, expressions.EvaluationError) as exc:
        result["error"] = _error("EvaluationFailed", str(exc), "testInputObject")
        return result
    result["evaluationSucceeded"] = True
    shown = expressions.for_log(value)  # a Redact()ed value is not echoed in clear
    result["evaluationResult"] = [] if shown is expressions.IGNORE_FLOW else expressions.to_strings(shown)
    return result
