"""SCIM shapes from mapped attributes: the POST body of a new resource and the PATCH operations
for what changed. Pure functions.

Target attribute names are SCIM paths as Entra's schemas write them: ``userName``,
``name.givenName``, ``emails[type eq "work"].value``, ``roles[primary eq "True"].value``,
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``.

Two PATCH dialects: RFC 7644 (default: lower-case ``op``, JSON booleans, ``members[value eq "…"]``
removals, manager as ``{"value": id}``) and Entra's legacy shapes (``Add``/``Replace``/``Remove``,
booleans as ``"True"``/``"False"``, member removal with a value array, manager as a bare string).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

from graphsync.connectors.scim import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

Dialect = Literal["rfc7644", "entra"]
URN_PREFIX = "urn:"
_FILTERED = re.compile(r'^(?P<parent>[A-Za-z0-9_]+)\[(?P<key>[A-Za-z0-9_]+) eq "(?P<value>[^"]*)"\]'
                       r'(?:\.(?P<sub>[A-Za-z0-9_]+))?$')


@dataclass(frozen=True)
class Path:
    """A parsed target path: ``urn`` (extension schema or None), the attribute, and for complex
    multi-valued attributes the element selector and sub-attribute."""

    text: str
    urn: str | None
    attribute: str
    sub: str | None = None
    selector: tuple[str, str] | None = None  # ("type", "work")


@functools.lru_cache(maxsize=4096)
def parse_path(text: str) -> Path:
    urn = None
    rest = text
    if text.startswith(URN_PREFIX):
        urn, _, rest = text.rpartition(":")
    match = _FILTERED.match(rest)
    if match:
        return Path(text, urn, match["parent"], match["sub"], (match["key"], match["value"]))
    attribute, _, sub = rest.partition(".")
    return Path(text, urn, attribute, sub or None)


def _selector_value(raw: str) -> Any:
    return {"true": True, "false": False}.get(raw.lower(), raw)


def build_resource(attributes: dict[str, Any], *, group: bool) -> dict[str, Any]:
    """The body of a POST: nested SCIM JSON with its schemas (manager and members are set later)."""
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA if group else USER_SCHEMA]}
    for text, value in attributes.items():
        if value is None:
            continue
        path = parse_path(text)
        container = body
        if path.urn:
            if path.urn == ENTERPRISE_SCHEMA and ENTERPRISE_SCHEMA not in body["schemas"]:
                body["schemas"].append(ENTERPRISE_SCHEMA)
            container = body.setdefault(path.urn, {})
        if path.selector:
            key, raw = path.selector
            items = container.setdefault(path.attribute, [])
            element = next((e for e in items if e.get(key) == _selector_value(raw)), None)
            if element is None:
                element = {key: _selector_value(raw)}
                if path.attribute == "emails" and raw == "work":
                    element["primary"] = True
                items.append(element)
            element[path.sub or "value"] = value
        elif path.sub:
            container.setdefault(path.attribute, {})[path.sub] = value
        else:
            container[path.attribute] = value
    body["meta"] = {"resourceType": "Group" if group else "User"}
    return body


def read_value(resource: dict[str, Any], text: str, *, lenient: bool = False) -> Any:
    """The value a SCIM resource holds at a target path (None when absent). ``lenient``: for a
    resource read back from a target, an element of a multi-valued attribute that lacks the
    selector's key altogether (targets that drop ``type`` on emails) stands for the selected one
    — the primary such element, else the first."""
    path = parse_path(text)
    container: Any = resource.get(path.urn, {}) if path.urn else resource
    if not isinstance(container, dict):
        return None
    value = container.get(path.attribute)
    if path.selector:
        key, raw = path.selector
        elements = [e for e in value or [] if isinstance(e, dict)] if isinstance(value, list) else []
        element = next((e for e in elements if e.get(key) == _selector_value(raw)), None)
        if element is None and lenient:
            untyped = [e for e in elements if key not in e]
            element = next((e for e in untyped if e.get("primary") in (True, "True", "true")),
                           untyped[0] if untyped else None)
        return None if element is None else element.get(path.sub or "value")
    if path.sub:
        return value.get(path.sub) if isinstance(value, dict) else None
    if isinstance(value, dict) and set(value) <= {"value", "$ref", "displayName"}:
        return value.get("value")  # e.g. manager returned as a complex object
    return value


def _op(name: str, dialect: Dialect) -> str:
    return name.capitalize() if dialect == "entra" else name


def _wire(value: Any, dialect: Dialect) -> Any:
    if dialect == "entra" and isinstance(value, bool):
        return "True" if value else "False"
    return value


def patch_operations(exported: dict[str, Any], changed: dict[str, Any],
                     dialect: Dialect = "rfc7644") -> list[dict[str, Any]]:
    """Operations for changed attributes (``changed``: path → new value), knowing what was last
    exported. ``add`` where the target had no value, ``replace`` where it had one; a new element
    of a multi-valued complex attribute (a work address, a mobile phone) is added whole."""
    present = {(p.urn, p.attribute, p.selector) for p in map(parse_path, (k for k, v in exported.items()
                                                                          if v is not None)) if p.selector}
    operations: list[dict[str, Any]] = []
    new_elements: dict[tuple[str | None, str, tuple[str, str]], dict[str, Any]] = {}
    for text, new in changed.items():
        if new is None:
            continue  # Entra does not clear values in the target
        old = exported.get(text)
        path = parse_path(text)
        if path.selector and (path.urn, path.attribute, path.selector) not in present:
            key, raw = path.selector
            element = new_elements.setdefault((path.urn, path.attribute, path.selector), {key: _selector_value(raw)})
            element[path.sub or "value"] = _wire(new, dialect)
            continue
        if path.urn == ENTERPRISE_SCHEMA and path.attribute == "manager":
            value: Any = new if dialect == "entra" else {"value": new}
        else:
            value = _wire(new, dialect)
        operations.append({"op": _op("add" if old is None else "replace", dialect), "path": text, "value": value})
    for (urn, attribute, _), element in new_elements.items():
        target = f"{urn}:{attribute}" if urn else attribute
        operations.append({"op": _op("add", dialect), "path": target, "value": [element]})
    return operations


def member_operations(added: list[str], removed: list[str], dialect: Dialect = "rfc7644") -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    if added:
        operations.append({"op": _op("add", dialect), "path": "members", "value": [{"value": m} for m in added]})
    if removed:
        if dialect == "entra":
            operations.append({"op": "Remove", "path": "members", "value": [{"value": m} for m in removed]})
        else:
            operations.extend({"op": "remove", "path": f'members[value eq "{m}"]'} for m in removed)
    return operations
