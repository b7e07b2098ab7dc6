"""Evaluation: a parsed tree is compiled once into nested Python closures, each taking
``(attributes, context, trace)``, so evaluating it again costs only the function calls.

Results are plain values (see ``values``) or one of two markers the caller must honour:

* ``IGNORE_FLOW`` — IgnoreFlowIfNullOrEmpty met a null/empty value: do not flow this
  attribute at all (wherever the call sits in the expression).
* ``Redacted(value)`` — the expression contains Redact: ``value`` flows to the target, but
  logs must show ``[Redact]`` (``str()`` of the marker already does). Any Redact in the tree
  marks the result, even in an IIF branch that was not taken — over-redacting is the safe side.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import dates, limits
from .context import EvaluationContext
from .errors import EvaluationError
from .functions import FUNCTIONS, IgnoreFlowSignal
from .nodes import Attribute, BareWord, Comparison, Constant, Function, Node, render, walk
from .values import FALSE, TRUE, coerce_input, is_null_or_empty, parse_number, scalar, text

Closure = Callable[[Mapping[str, Any], "EvaluationContext | None", "list | None"], Any]
Trace = list[tuple[str, Any]]


class _IgnoreFlow:
    """The type of ``IGNORE_FLOW`` (a singleton)."""

    _instance: "_IgnoreFlow | None" = None

    def __new__(cls) -> "_IgnoreFlow":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "IGNORE_FLOW"

    def __reduce__(self):
        return (_IgnoreFlow, ())


IGNORE_FLOW = _IgnoreFlow()


@dataclass(frozen=True, slots=True)
class Redacted:
    """A value that flows to the target but is shown as ``[Redact]`` in logs."""

    value: Any

    def __str__(self) -> str:
        return "[Redact]"

    def __repr__(self) -> str:
        return "Redacted([Redact])"


def unwrap(result: Any) -> Any:
    """The value to write to the target (``Redacted`` unwrapped; ``IGNORE_FLOW`` kept)."""
    return result.value if isinstance(result, Redacted) else result


def for_log(result: Any) -> Any:
    """The value to show in provisioning logs (``"[Redact]"`` for redacted results)."""
    return "[Redact]" if isinstance(result, Redacted) else result


# ============================================================================= compiled expressions
class CompiledExpression:
    """An expression compiled for repeated evaluation."""

    __slots__ = ("node", "text", "function", "redacts", "limited", "_traced")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.text = render(node)
        self.function, self.redacts = _compile(node, traced=False, inside_redact=False)
        self.limited = _calls_limited(node)  # each evaluation starts with a fresh ``limits`` budget
        self._traced: Closure | None = None

    def evaluate(self, attributes: Mapping[str, Any] | None, context: EvaluationContext | None = None) -> Any:
        return _run(self, self.function, attributes, context, None)

    def evaluate_traced(self, attributes: Mapping[str, Any] | None,
                        context: EvaluationContext | None = None) -> tuple[Any, Trace]:
        if self._traced is None:
            self._traced = _compile(self.node, traced=True, inside_redact=False)[0]
        trace: Trace = []
        return _run(self, self._traced, attributes, context, trace), trace


def compile_expression(node: Node) -> CompiledExpression:
    """Compile ``node`` (cached on the node, so parse once and evaluate many)."""
    compiled = node._compiled
    if compiled is None:
        compiled = CompiledExpression(node)
        object.__setattr__(node, "_compiled", compiled)
    return compiled


_CONVERSION_ERRORS = (TypeError, ValueError, OverflowError, re.error)


def _calls_limited(node: Node) -> bool:
    """Whether ``node`` calls a function that draws on the ``limits`` budget."""
    return any(isinstance(n, Function) and FUNCTIONS[n.name].limited for n in walk(node))


def _run(compiled: CompiledExpression, function: Closure, attributes, context, trace) -> Any:
    if compiled.limited:
        limits.start()
    try:
        value = function(attributes if attributes is not None else {}, context, trace)
    except IgnoreFlowSignal:
        return IGNORE_FLOW
    except EvaluationError:
        raise
    except _CONVERSION_ERRORS as exc:
        raise EvaluationError(f"cannot evaluate {compiled.text}: {exc}") from exc
    return Redacted(value) if compiled.redacts else value


def evaluate(node: Node, attributes: Mapping[str, Any] | None, context: EvaluationContext | None = None) -> Any:
    """Evaluate ``node`` against ``attributes`` (attribute name → str | int | bool | list | None)."""
    compiled = node._compiled or compile_expression(node)
    return _run(compiled, compiled.function, attributes, context, None)


def evaluate_traced(node: Node, attributes: Mapping[str, Any] | None,
                    context: EvaluationContext | None = None) -> tuple[Any, Trace]:
    """Like ``evaluate``, also returning ``(canonical text, value)`` for every sub-expression in the
    order evaluation finished them (children before parents; untaken IIF/Switch branches absent).
    Values inside or depending on Redact appear as ``Redacted``; a dropped flow as ``IGNORE_FLOW``."""
    return compile_expression(node).evaluate_traced(attributes, context)


# ============================================================================= compilation
def _none(attrs, ctx, trace):
    return None


def _compile(node: Node, traced: bool, inside_redact: bool) -> tuple[Closure, bool]:
    """The closure for ``node`` and whether its subtree contains Redact."""
    if isinstance(node, Function):
        closure, has_redact = _compile_function(node, traced, inside_redact)
    elif isinstance(node, Attribute):
        closure, has_redact = _compile_attribute(node.name), False
    elif isinstance(node, (Constant, BareWord)):
        closure, has_redact = _constant(node.value if isinstance(node, Constant) else node.name), False
    elif isinstance(node, Comparison):
        closure, has_redact = _compile_comparison(node, traced, inside_redact)
    else:
        raise TypeError(f"not an expression node: {node!r}")
    if traced:
        closure = _traced(closure, render(node), masked=inside_redact or has_redact)
    return closure, has_redact


def _constant(value: str) -> Closure:
    def constant(attrs, ctx, trace):
        return value
    return constant


def _compile_attribute(name: str) -> Closure:
    def attribute(attrs, ctx, trace):
        value = attrs.get(name)
        if value.__class__ is str or value is None:
            return value
        return coerce_input(value)
    return attribute


def _traced(closure: Closure, text_: str, masked: bool) -> Closure:
    def traced(attrs, ctx, trace):
        try:
            value = closure(attrs, ctx, trace)
        except IgnoreFlowSignal:
            trace.append((text_, IGNORE_FLOW))
            raise
        trace.append((text_, Redacted(value) if masked else value))
        return value
    return traced


def _compile_function(node: Function, traced: bool, inside_redact: bool) -> tuple[Closure, bool]:
    spec = FUNCTIONS[node.name]
    params = spec.bind(len(node.args))
    inside = inside_redact or node.name == "Redact"
    compiled = [(_compile(arg, traced, inside) if arg is not None else (_none, False)) for arg in node.args]
    has_redact = node.name == "Redact" or any(flag for _, flag in compiled)
    closures = [closure for closure, _ in compiled]

    if spec.specialize is not None and not traced:  # traced runs keep every step visible
        special = spec.specialize(node.args, closures)
        if special is not None:
            return special, has_redact

    if spec.kind == "lazy":
        lazy_impl, arguments = spec.impl, tuple(closures)

        def call_lazy(attrs, ctx, trace):
            return lazy_impl(arguments, attrs, ctx, trace)
        return call_lazy, has_redact

    if spec.repeating:
        ordered = closures
    else:  # one closure per declared parameter, in declaration order
        ordered = [_none] * len(spec.params)
        index = {p.name: i for i, p in enumerate(spec.params)}
        for closure, param in zip(closures, params):
            ordered[index[param.name]] = closure
    impl = spec.impl(tuple(c is not _none for c in ordered)) if spec.by_presence else spec.impl
    return _call(impl, ordered, with_context=spec.kind == "context"), has_redact


def _call(impl: Callable[..., Any], args: list[Closure], with_context: bool) -> Closure:
    """A closure evaluating ``args`` and calling ``impl`` (unrolled for the common arities)."""
    if with_context:
        def call_with_context(attrs, ctx, trace):
            return impl(ctx, *[arg(attrs, ctx, trace) for arg in args])
        return call_with_context
    if len(args) == 1:
        (a,) = args

        def call1(attrs, ctx, trace):
            return impl(a(attrs, ctx, trace))
        return call1
    if len(args) == 2:
        a, b = args

        def call2(attrs, ctx, trace):
            return impl(a(attrs, ctx, trace), b(attrs, ctx, trace))
        return call2
    if len(args) == 3:
        a, b, c = args

        def call3(attrs, ctx, trace):
            return impl(a(attrs, ctx, trace), b(attrs, ctx, trace), c(attrs, ctx, trace))
        return call3

    def call_n(attrs, ctx, trace):
        return impl(*[arg(attrs, ctx, trace) for arg in args])
    return call_n


# ============================================================================= comparisons
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "<>": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
_BOOLEAN_TEXT = ("true", "false")


def _compile_comparison(node: Comparison, traced: bool, inside_redact: bool) -> tuple[Closure, bool]:
    left, left_redact = _compile(node.left, traced, inside_redact)
    right, right_redact = _compile(node.right, traced, inside_redact)
    numeric_literal = any(isinstance(side, Constant) and side.literal is not None for side in (node.left, node.right))
    op = node.operator

    def compare(attrs, ctx, trace):
        return TRUE if compare_values(op, left(attrs, ctx, trace), right(attrs, ctx, trace), numeric_literal) else FALSE
    return compare, left_redact or right_redact


def compare_values(op: str, left: Any, right: Any, numeric: bool = False) -> bool:
    """IIF/CBool comparison. A null or empty operand makes the condition false (the documented
    IIF limitation). Numbers compare numerically when either side is a number literal or an
    integer result, and for ordering operators whenever both sides are numeric; ordering of two
    dates compares the dates; booleans compare case-insensitively; anything else compares as
    case-sensitive strings."""
    left, right = scalar(left), scalar(right)
    if is_null_or_empty(left) or is_null_or_empty(right):
        return False
    compare = _OPERATORS[op]
    ordering = op not in ("=", "<>")
    if numeric or ordering or left.__class__ is int or right.__class__ is int:
        left_number, right_number = parse_number(left), parse_number(right)
        if left_number is not None and right_number is not None:
            return compare(left_number, right_number)
    left_text, right_text = text(left) or "", text(right) or ""
    if ordering:
        try:
            return compare(dates.parse_datetime(left_text), dates.parse_datetime(right_text))
        except dates.DateError:
            pass
    elif left_text.lower() in _BOOLEAN_TEXT and right_text.lower() in _BOOLEAN_TEXT:
        return compare(left_text.lower(), right_text.lower())
    return compare(left_text, right_text)
