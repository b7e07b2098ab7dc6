"""Scoping filters (reference §6.3): evaluation, validation and the ``filterOperators`` listing.

A filter's ``groups`` are OR-ed and each group's ``clauses`` AND-ed; no groups means
everything is in scope. Clause rules:

* A null or empty attribute makes every clause false except ``IS NULL`` (which is then
  true) — including the negated ones (``NOT EQUALS``, ``NOT REGEX MATCH``, ``!&``).
* Binary operators take one or more ``targetOperand.values``: a positive operator is true
  when the attribute satisfies it for any value; a negated one when it satisfies none.
* ``&`` is true when the attribute's value occurs in the clause value (substring, case
  sensitive) — the docs' "the evaluated attribute exists in the input string value";
  ``!&`` is its negation. (The docs do not say more; a bitwise reading was rejected because
  the operator is listed for strings.)
* ``Greater_Than`` / ``Greater_Than_OR_EQUALS`` compare integers; a non-integer attribute is false.
* ``REGEX MATCH`` uses .NET ``Regex.IsMatch`` semantics (a match anywhere, case sensitive).
* Filtering multi-valued attributes is not supported by the service; here every value must
  satisfy the clause (``multivaluedComparisonType: All``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import dotnet_regex, limits
from .values import coerce_input, is_null_or_empty, parse_int, text

ALL_TYPES = ["String", "Integer", "Reference", "Binary", "Boolean", "DateTime"]
GROUP_KEYS = ("groups", "inputFilterGroups", "categoryFilterGroups")


class FilterError(ValueError):
    """A scoping filter that cannot be evaluated (unknown operator, bad regex…)."""


class FilterLimitExceeded(FilterError, limits.LimitExceeded):
    """A REGEX MATCH clause ran out of its time budget: a ``FilterError`` for callers that report
    the filter, and an ``EvaluationError`` for those that fail the object on one."""


@dataclass(frozen=True)
class FilterOperator:
    name: str
    arity: str  # "Binary" | "Unary"
    supported_types: tuple[str, ...]
    test: Callable[..., bool]  # Binary: test(value, operand); Unary: test(value)
    negated: bool = False  # Binary only: true when ``test`` holds for none of the operands

    def schema(self) -> dict[str, Any]:
        return {"id": self.name, "name": self.name, "arity": self.arity, "multivaluedComparisonType": "All",
                "supportedAttributeTypes": list(self.supported_types)}


def _greater(value: str, operand: str, or_equal: bool) -> bool:
    left, right = parse_int(value), parse_int(operand)
    if left is None or right is None:
        return False
    return left >= right if or_equal else left > right


def _regex(value: str, pattern: str) -> bool:
    try:
        return dotnet_regex.is_match(value, pattern)
    except re.error as exc:
        raise FilterError(f"invalid regular expression {pattern!r}: {exc}") from None
    except limits.LimitExceeded as exc:
        raise FilterLimitExceeded(f"REGEX MATCH: {exc}") from None


_STRING = ("String",)
OPERATORS: dict[str, FilterOperator] = {op.name: op for op in [
    FilterOperator("EQUALS", "Binary", ("String", "Integer"), lambda v, o: v == o),
    FilterOperator("NOT EQUALS", "Binary", ("String", "Integer"), lambda v, o: v == o, negated=True),
    FilterOperator("IS TRUE", "Unary", ("Boolean",), lambda v: v.strip().lower() == "true"),
    FilterOperator("IS FALSE", "Unary", ("Boolean",), lambda v: v.strip().lower() == "false"),
    FilterOperator("IS NULL", "Unary", tuple(ALL_TYPES), lambda v: False),  # non-empty values are not null
    FilterOperator("IS NOT NULL", "Unary", tuple(ALL_TYPES), lambda v: True),
    FilterOperator("REGEX MATCH", "Binary", _STRING, _regex),
    FilterOperator("NOT REGEX MATCH", "Binary", _STRING, _regex, negated=True),
    FilterOperator("Greater_Than", "Binary", ("Integer",), lambda v, o: _greater(v, o, False)),
    FilterOperator("Greater_Than_OR_EQUALS", "Binary", ("Integer",), lambda v, o: _greater(v, o, True)),
    FilterOperator("Includes", "Binary", _STRING, lambda v, o: o in v),
    FilterOperator("ENDS_WITH", "Binary", _STRING, lambda v, o: v.endswith(o)),
    FilterOperator("&", "Binary", _STRING, lambda v, o: v in o),
    FilterOperator("!&", "Binary", _STRING, lambda v, o: v in o, negated=True),
]}


def filter_operator_schemas() -> list[dict[str, Any]]:
    """``filterOperatorSchema`` items for ``GET …/schema/filterOperators``."""
    return [op.schema() for op in OPERATORS.values()]


# ============================================================================= evaluation
def scope_matches(filter_: Mapping[str, Any] | None, attributes: Mapping[str, Any]) -> bool:
    """Whether an object with ``attributes`` is in scope of a Graph ``filter`` (its ``groups``)."""
    if not filter_:
        return True
    return groups_match(filter_.get("groups"), attributes)


def groups_match(groups: list[Mapping[str, Any]] | None, attributes: Mapping[str, Any]) -> bool:
    """OR over groups, AND over each group's clauses; no groups → True. Also usable for
    ``inputFilterGroups`` / ``categoryFilterGroups``."""
    if not groups:
        return True
    limits.start()  # the filter's REGEX MATCH clauses share one time budget per object
    return any(all(clause_matches(clause, attributes) for clause in group.get("clauses") or [])
               for group in groups)


def clause_matches(clause: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    operator = OPERATORS.get(clause.get("operatorName"))  # type: ignore[arg-type]
    if operator is None:
        raise FilterError(f"unknown scoping filter operator {clause.get('operatorName')!r}")
    value = coerce_input(attributes.get(clause.get("sourceOperandName") or ""))
    if operator.name == "IS NULL":
        return _is_empty(value)
    if _is_empty(value):
        return False
    values = value if isinstance(value, list) else [value]
    if operator.arity == "Unary":
        return all(not is_null_or_empty(v) and operator.test(text(v)) for v in values)
    operands = [text(o) or "" for o in ((clause.get("targetOperand") or {}).get("values") or [])]
    if not operands:
        return False
    for item in values:
        if is_null_or_empty(item):
            return False
        item_text = text(item)
        hit = any(operator.test(item_text, operand) for operand in operands)
        if hit == operator.negated:
            return False
    return True


def _is_empty(value: Any) -> bool:
    if isinstance(value, list):
        return all(is_null_or_empty(v) for v in value)
    return is_null_or_empty(value)


# ============================================================================= validation
def validate_filter(filter_: Any) -> list[str]:
    """Problems that make a filter invalid (an empty list when it is fine)."""
    if filter_ is None:
        return []
    if not isinstance(filter_, Mapping):
        return ["a scoping filter must be an object"]
    problems: list[str] = []
    for key in GROUP_KEYS:
        groups = filter_.get(key)
        if groups is None:
            continue
        if not isinstance(groups, list):
            problems.append(f"{key} must be a list")
            continue
        for g, group in enumerate(groups):
            where = f"{key}[{g}]"
            if not isinstance(group, Mapping):
                problems.append(f"{where} must be an object")
                continue
            clauses = group.get("clauses")
            if clauses is None:
                continue
            if not isinstance(clauses, list):
                problems.append(f"{where}.clauses must be a list")
                continue
            for c, clause in enumerate(clauses):
                problems.extend(_clause_problems(f"{where}.clauses[{c}]", clause))
    return problems


def _clause_problems(where: str, clause: Any) -> list[str]:
    if not isinstance(clause, Mapping):
        return [f"{where} must be an object"]
    problems = []
    name = clause.get("operatorName")
    operator = OPERATORS.get(name) if isinstance(name, str) else None
    if operator is None:
        problems.append(f"{where}.operatorName: unknown operator {name!r} (expected one of "
                        + ", ".join(repr(n) for n in OPERATORS) + ")")
    source = clause.get("sourceOperandName")
    if not isinstance(source, str) or not source:
        problems.append(f"{where}.sourceOperandName: an attribute name is required")
    operand = clause.get("targetOperand")
    values: Any = [] if operand is None else (operand.get("values") if isinstance(operand, Mapping) else None)
    if values is None and isinstance(operand, Mapping):
        values = []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.append(f"{where}.targetOperand.values must be a list of strings")
        return problems
    if operator is None:
        return problems
    if operator.arity == "Unary" and values:
        problems.append(f"{where}: {operator.name} is unary and takes no values, got {len(values)}")
    if operator.arity == "Binary" and not values:
        problems.append(f"{where}: {operator.name} is binary and needs a value in targetOperand.values")
    if operator.name.startswith("Greater_Than"):
        for value in values:
            if parse_int(value) is None or not value.strip().lstrip("+-").isdigit():
                problems.append(f"{where}: {operator.name} needs an integer value, got {value!r}")
    if "REGEX" in operator.name:
        for value in values:
            try:
                dotnet_regex.compile_pattern(value)
            except re.error as exc:
                problems.append(f"{where}: invalid regular expression {value!r}: {exc}")
    return problems
