"""Parse-tree nodes and their canonical text rendering.

Nodes are immutable and compare by value, so ``parse(render(n)) == n`` is a meaningful
round-trip check. Each node has a private ``_compiled`` slot used by the evaluator to
cache the compiled closure of an expression root (parse once, evaluate many).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

COMPARISON_OPERATORS = ("=", "<>", ">", ">=", "<", "<=")
BARE_WORDS = ("vbTextCompare", "vbBinaryCompare")


@dataclass(frozen=True, slots=True)
class Attribute:
    """``[name]`` — the value of a source attribute."""

    name: str
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Constant:
    """A string literal, or a number literal when ``literal`` holds its unquoted spelling
    (``1``, ``-10``, ``&HF``). ``value`` is what the constant evaluates to (numbers in
    decimal: ``&HF`` → ``"15"``)."""

    value: str
    literal: str | None = None
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BareWord:
    """An enum-like bare identifier (``vbTextCompare`` / ``vbBinaryCompare``); evaluates to its name."""

    name: str
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left <op> right``; only allowed as the condition of IIF and the argument of CBool."""

    operator: str
    left: "Node"
    right: "Node"
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Function:
    """``Name(arg, …)``; ``None`` in ``args`` is a skipped (empty) positional argument."""

    name: str
    args: tuple["Node | None", ...]
    _compiled: Any = field(default=None, init=False, repr=False, compare=False)


Node = Union[Attribute, Constant, BareWord, Comparison, Function]


def quote(value: str) -> str:
    """A string literal for ``value``: backslash and double quote are escaped with a backslash."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(node: Node) -> str:
    """The canonical text of a node: arguments separated by ``", "``, empty slots kept,
    string constants quoted, number constants unquoted as written."""
    if isinstance(node, Attribute):
        return f"[{node.name}]"
    if isinstance(node, Constant):
        return node.literal if node.literal is not None else quote(node.value)
    if isinstance(node, BareWord):
        return node.name
    if isinstance(node, Comparison):
        return f"{render(node.left)} {node.operator} {render(node.right)}"
    if isinstance(node, Function):
        return node.name + "(" + ", ".join("" if a is None else render(a) for a in node.args) + ")"
    raise TypeError(f"not an expression node: {node!r}")


def walk(node: Node):
    """Yield ``node`` and all its descendants, parents first."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Function):
            stack.extend(a for a in reversed(current.args) if a is not None)
        elif isinstance(current, Comparison):
            stack.extend((current.right, current.left))
