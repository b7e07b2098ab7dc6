"""The value model of the expression language and conversions between its types.

A value is ``None`` (null: the attribute is absent), a ``str``, an ``int`` (results of
Count, InStr, BitAnd, DateDiff, NumFromDate…), or a ``list`` of values (multi-valued).
Booleans are the strings ``"True"``/``"False"``; dates travel as strings too (functions
returning dates format them as ``M/d/yyyy h:mm:ss tt`` in UTC). Null and ``""`` differ.
A caller's input may also hold JSON objects (``dict``): appRoleAssignments entries and
references read as their role name or id, any other object as its compact JSON text.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .errors import EvaluationError

TRUE = "True"
FALSE = "False"

_INTEGER = re.compile(r"\s*([+-]?\d+)(?:\.0*)?\s*\Z")
_HEX = re.compile(r"\s*&[Hh]([0-9A-Fa-f]+)\s*\Z")
_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*\Z")


def from_bool(flag: bool) -> str:
    return TRUE if flag else FALSE


def coerce_input(value: Any) -> Any:
    """Normalize an attribute value supplied by the caller: booleans become ``"True"``/``"False"``,
    tuples become lists; everything else is kept (including dicts inside lists, used by the
    appRoleAssignments attribute)."""
    if value is True:
        return TRUE
    if value is False:
        return FALSE
    if isinstance(value, (list, tuple)):
        return [coerce_input(item) for item in value]
    return value


def is_null(value: Any) -> bool:
    """Null: absent, or a multi-valued attribute without values."""
    return value is None or (value.__class__ is list and not value)


def is_null_or_empty(value: Any) -> bool:
    return value is None or value == "" or (value.__class__ is list and not value)


def scalar(value: Any) -> Any:
    """A single value from a possibly multi-valued one (the first value, or null)."""
    if value.__class__ is list:
        return value[0] if value else None
    return value


def text(value: Any) -> str | None:
    """The string form of a single value (null stays null; lists give their first value).
    A non-null single value always has one, objects included: string functions may rely on it."""
    if value.__class__ is str or value is None:
        return value
    value = scalar(value)
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return from_bool(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        role = role_value(value)
        return role if role is not None else compact_json(value)
    return str(value)


def role_value(item: Any) -> str | None:
    """The role name of one appRoleAssignments entry (a plain string, or a dict with
    ``value``/``displayName``/``display``)."""
    if isinstance(item, dict):
        for key in ("value", "displayName", "display", "id"):
            if item.get(key) is not None:
                return str(item[key])
        return None
    return text(item)


def parse_int(value: Any) -> int | None:
    """An integer from an int or a decimal / ``&H`` hex string; None if it is not one."""
    value = scalar(value)
    if value.__class__ is int:
        return value
    if isinstance(value, str):
        match = _INTEGER.match(value)
        if match:
            return int(match.group(1))
        match = _HEX.match(value)
        if match:
            return int(match.group(1), 16)
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_number(value: Any) -> float | int | None:
    """An int or float from a number or numeric string; None if it is not numeric."""
    as_int = parse_int(value)
    if as_int is not None:
        return as_int
    value = scalar(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def require_int(value: Any, function: str, parameter: str) -> int | None:
    """``parse_int`` for a function argument: null stays null, anything else non-integer is an error."""
    if value is None:
        return None
    result = parse_int(value)
    if result is None:
        raise EvaluationError(f"{function}: {parameter} must be an integer, got {text(value)!r}")
    return result


def truthy(value: Any) -> bool:
    """Boolean reading of a value: ``"True"`` (any case) or a non-zero number is true."""
    value = scalar(value)
    if value is None:
        return False
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lower() == "true":
            return True
        number = parse_number(stripped)
        return number is not None and number != 0
    if value is True or value is False:
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return False


def to_strings(value: Any) -> list[str] | None:
    """A result as the list of strings Graph reports (``parseExpressionResponse.evaluationResult``):
    null → None, a single value → one string, multi-valued → one string per value."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [_string(item) for item in items]


def compact_json(value: Any) -> str:
    """A complex value (a JSON object) as text: compact JSON, as ``evaluationResult`` shows it."""
    return json.dumps(value, separators=(",", ":"))


def _string(item: Any) -> str:
    if isinstance(item, dict):  # a complex value such as an AppRoleAssignmentsComplex role
        return compact_json(item)
    return text(item) or ""
