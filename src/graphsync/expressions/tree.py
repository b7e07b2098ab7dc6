"""Conversion between nodes and Graph ``attributeMappingSource`` JSON.

* Attribute → ``{"expression": "[x]", "name": "x", "parameters": [], "type": "Attribute"}``
* Constant → ``{"expression": "\\"v\\"", "name": "v", "parameters": [], "type": "Constant"}``
  (numbers become quoted constants: ``1`` → name ``"1"``; ``&HF`` → name ``"15"``)
* Function → ``{"expression": <canonical text>, "name": Fn, "parameters": [{"key", "value"}…],
  "type": "Function"}`` with empty positional arguments left out of ``parameters``.

Two shapes the reference does not define: a bare word (``vbTextCompare``) is a Constant
whose expression is the unquoted word, and a comparison inside IIF/CBool is a Function node
named by its operator (``"="``, ``"<>"`` …) with parameters ``left`` and ``right``.
"""
from __future__ import annotations

from typing import Any, Mapping

from .errors import ExpressionError
from .functions import FUNCTIONS, ArityError
from .nodes import COMPARISON_OPERATORS, Attribute, BareWord, Comparison, Constant, Function, Node, quote, render
from .parser import MAX_DEPTH, attribute_end, parse


def to_source(node: Node) -> dict[str, Any]:
    """The ``attributeMappingSource`` tree of a node."""
    if isinstance(node, Attribute):
        return {"expression": render(node), "name": node.name, "parameters": [], "type": "Attribute"}
    if isinstance(node, Constant):
        return {"expression": quote(node.value), "name": node.value, "parameters": [], "type": "Constant"}
    if isinstance(node, BareWord):
        return {"expression": node.name, "name": node.name, "parameters": [], "type": "Constant"}
    if isinstance(node, Comparison):
        return {"expression": render(node), "name": node.operator,
                "parameters": [{"key": "left", "value": to_source(node.left)},
                               {"key": "right", "value": to_source(node.right)}],
                "type": "Function"}
    if isinstance(node, Function):
        params = FUNCTIONS[node.name].bind(len(node.args))
        return {"expression": render(node), "name": node.name,
                "parameters": [{"key": param.name, "value": to_source(arg)}
                               for arg, param in zip(node.args, params) if arg is not None],
                "type": "Function"}
    raise TypeError(f"not an expression node: {node!r}")


def from_source(source: Mapping[str, Any]) -> Node:
    """A node from an ``attributeMappingSource`` dict. Its ``expression`` is authoritative when
    present; otherwise the node is rebuilt from ``type``/``name``/``parameters`` (and then
    checked exactly like parsed text). Raises ``ExpressionError`` for anything invalid."""
    if not isinstance(source, Mapping):
        raise ExpressionError("an attributeMappingSource must be an object", 0)
    expression = source.get("expression")
    if isinstance(expression, str) and expression.strip():
        return parse(expression)
    node = _build(source, 0)
    return parse(render(node))


def _build(source: Any, depth: int) -> Node:
    if not isinstance(source, Mapping):
        raise ExpressionError("attributeMappingSource: a parameter value must be an object", 0)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"attributeMappingSource: nested more than {MAX_DEPTH} levels deep", 0)
    kind = source.get("type") or "Attribute"
    name = source.get("name")
    if not isinstance(name, str):
        expression = source.get("expression")
        if depth and isinstance(expression, str) and expression.strip():
            return parse(expression)  # a nested node given only by its text
        raise ExpressionError(f"attributeMappingSource: a {kind} node needs a name", 0)
    if kind == "Attribute":
        if not name.strip() or attribute_end(f"[{name}]", 0) != len(name) + 1:
            raise ExpressionError(f"attributeMappingSource: invalid attribute name {name!r}", 0)
        return Attribute(name)
    if kind == "Constant":
        return Constant(name)
    if kind != "Function":
        raise ExpressionError(f"attributeMappingSource: unknown type {kind!r}", 0)
    parameters = source.get("parameters") or []
    if not isinstance(parameters, list):
        raise ExpressionError("attributeMappingSource: parameters must be a list", 0)
    pairs: list[tuple[str, Node]] = []
    for pair in parameters:
        if not isinstance(pair, Mapping) or not isinstance(pair.get("key"), str):
            raise ExpressionError(f"attributeMappingSource: {name} has a parameter without a key", 0)
        pairs.append((pair["key"], _build(pair.get("value"), depth + 1)))
    if name in COMPARISON_OPERATORS:
        values = dict(pairs)
        if set(values) != {"left", "right"} or len(pairs) != 2:
            raise ExpressionError(f"attributeMappingSource: comparison {name!r} needs parameters left and right", 0)
        return Comparison(name, values["left"], values["right"])
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise ExpressionError(f"attributeMappingSource: unknown function {name!r}", 0)
    return Function(name, tuple(_place_arguments(spec, pairs)))


def _place_arguments(spec, pairs: list[tuple[str, Node]]) -> list[Node | None]:
    """Put keyed parameters back into their positional slots, leaving skipped slots empty."""
    if spec.repeating:
        return _place_repeating(spec, pairs)
    slots: list[Node | None] = [None] * len(spec.params)
    positions = {p.name: i for i, p in enumerate(spec.params)}
    for key, node in pairs:
        index = positions.get(key)
        if index is None:
            raise ExpressionError(f"attributeMappingSource: {spec.name} has no parameter {key!r}", 0)
        if slots[index] is not None:
            raise ExpressionError(f"attributeMappingSource: parameter {key!r} of {spec.name} is given twice", 0)
        slots[index] = node
    while slots and slots[-1] is None:
        slots.pop()
    return slots


def _place_repeating(spec, pairs: list[tuple[str, Node]]) -> list[Node | None]:
    """Functions with a repeating parameter list their arguments in order; the only slot that
    can be skipped is Switch's defaultValue."""
    keyed: list[tuple[str, Node | None]] = list(pairs)
    if spec.name == "Switch" and len(keyed) >= 1 and (len(keyed) < 2 or keyed[1][0] != "defaultValue"):
        keyed.insert(1, ("defaultValue", None))
    try:
        bound = spec.bind(len(keyed))
    except ArityError as exc:
        raise ExpressionError(f"attributeMappingSource: {exc}", 0) from None
    for index, ((key, _), param) in enumerate(zip(keyed, bound)):
        coalesce_default = spec.name == "Coalesce" and key == "defaultValue" and index == len(keyed) - 1
        if key != param.name and not coalesce_default:
            raise ExpressionError(
                f"attributeMappingSource: argument {index + 1} of {spec.name} should be {param.name!r}, not {key!r}", 0)
    return [node for _, node in keyed]
