"""API-driven inbound provisioning, the pure part: SCIM BulkRequest validation, reading a record's
source attributes by the SCIM paths the job's schema names, and deciding what a record does to
the directory (create / update / enable / disable / nothing), with its provisioning log entry.

Source attribute names are those of the ``API`` directory of the job's schema (API2AAD.json):
``userName``, ``name.givenName``, ``emails[type eq "work"].value``,
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``, and custom
extension attributes ``urn:<namespace>:<attr>`` whose values the record nests under an object
keyed by the namespace (Entra's "custom attributes" tutorial). A complex value with a ``value``
sub-attribute (``manager``) reads as that value. Numbers read as strings, booleans as booleans.

No I/O here: the service (services/inbound.py) reads and writes the database.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from graphsync import expressions
from graphsync.codec import dumps as _dumps
from graphsync.engine import logs
from graphsync.engine.logs import COMPACT, INBOUND, log_text
from graphsync.engine.mapping import AttributeRule, ObjectRule, compile_schema, evaluate
from graphsync.errors import BadRequest, TooManyRequests
from graphsync.json_body import load_object

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ANCHOR = "externalId"

# Job settings (synchronizationJobSettings) that lift Entra's limits for self-hosted use; 0 = no limit.
SETTING_MAX_OPERATIONS = "BulkUploadMaxOperations"
SETTING_REQUESTS_PER_SECOND = "BulkUploadRequestsPerSecond"
DEFAULT_MAX_OPERATIONS = 50  # Entra: at most 50 operations per request
DEFAULT_REQUESTS_PER_SECOND = 40  # Entra: 40 requests per second per job
MAX_ID_LENGTH = 256


# ------------------------------------------------------------------------------------------------
# The BulkRequest

@dataclass(frozen=True)
class Operation:
    bulk_id: str
    external_id: str
    data: dict[str, Any]


def _key(obj: dict, name: str) -> Any:
    """SCIM attribute names are case-insensitive."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key in obj:
        if key.lower() == lowered:
            return obj[key]
    return None


def anchor_of(data: dict) -> str:
    """The record's externalId (validated present when it was staged)."""
    value = _key(data, ANCHOR)
    return _number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def parse_bulk_request(raw: bytes, max_operations: int) -> list[Operation]:
    """The operations of a SCIM BulkRequest for ``/bulkUpload``, or a 400 that says what is wrong
    (then nothing of the request is accepted). ``max_operations`` 0 means no limit."""
    if not raw.strip():
        raise BadRequest("A request body is required: a SCIM BulkRequest with Operations.")
    body = load_object(raw, prefix="Invalid Data Format: ", expected="a SCIM BulkRequest (a JSON object)")
    known = {"schemas", "operations", "failonerrors"}
    unknown = sorted(k for k in body if k.lower() not in known and "@odata." not in k)
    if unknown:
        raise BadRequest(f"The property '{unknown[0]}' does not exist on a SCIM BulkRequest "
                         "(expected schemas, Operations, failOnErrors).")
    schemas = _key(body, "schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise BadRequest(f"Invalid Data Format: 'schemas' must be [\"{BULK_REQUEST}\"].")
    fail_on_errors = _key(body, "failOnErrors")
    if fail_on_errors is not None and (isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int)
                                       or fail_on_errors < 1):
        raise BadRequest("'failOnErrors' must be null or a positive integer.")
    operations = _key(body, "Operations")
    if not isinstance(operations, list):
        raise BadRequest("Invalid Data Format: 'Operations' must be an array of bulk operations.")
    if not operations:
        raise BadRequest("The bulk request has no operations.")
    if max_operations and len(operations) > max_operations:
        raise BadRequest(f"A bulk request may carry at most {max_operations} operations; this one has "
                         f"{len(operations)}. Split the records into several requests (for self-hosted use the "
                         f"job setting '{SETTING_MAX_OPERATIONS}' raises or, with 0, lifts the limit).",
                         code="TooManyOperations")
    parsed: list[Operation] = []
    for index, operation in enumerate(operations):
        where = f"Operations[{index}]"
        if not isinstance(operation, dict):
            raise BadRequest(f"{where} must be a JSON object.")
        extra = () if operation.keys() <= _OPERATION_KEYS else \
            sorted(k for k in operation if k.lower() not in ("method", "path", "bulkid", "data", "version"))
        if extra:
            raise BadRequest(f"{where}: the property '{extra[0]}' does not exist on a bulk operation.")
        method = _key(operation, "method")
        if not isinstance(method, str) or method.upper() != "POST":
            raise BadRequest(f"{where}.method is {json.dumps(method)}: /bulkUpload only accepts POST operations "
                             "(the provisioning service decides whether to create, update, enable or disable).")
        path = _key(operation, "path")
        if path != "/Users" and (not isinstance(path, str) or path.strip().rstrip("/").lower() != "/users"):
            raise BadRequest(f"{where}.path is {json.dumps(path)}: /bulkUpload only accepts the path /Users.")
        # A repeated bulkId is accepted: RFC 7644 asks clients for unique ones, but bulkUpload never
        # refers to one, and Microsoft's own CSV2SCIM sample payloads repeat them.
        bulk_id = _key(operation, "bulkId")
        if not isinstance(bulk_id, str) or not bulk_id.strip() or len(bulk_id) > MAX_ID_LENGTH:
            raise BadRequest(f"{where}.bulkId is required: a non-empty string of at most {MAX_ID_LENGTH} "
                             "characters.")
        data = _key(operation, "data")
        if not isinstance(data, dict):
            raise BadRequest(f"{where}.data must be a SCIM user (a JSON object).")
        data_schemas = _key(data, "schemas")
        if not isinstance(data_schemas, list) or not all(isinstance(s, str) for s in data_schemas) \
                or (CORE_USER not in data_schemas and CORE_USER.lower() not in {s.lower() for s in data_schemas}):
            raise BadRequest(f"{where}.data.schemas must list \"{CORE_USER}\" (and the extension schemas the "
                             "record uses).")
        external_id = _key(data, ANCHOR)
        if isinstance(external_id, (int, float)) and not isinstance(external_id, bool):
            external_id = _number(external_id)
        if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > MAX_ID_LENGTH:
            raise BadRequest(f"{where}.data.externalId is required: the worker's unique id in the source "
                             f"system (a string of at most {MAX_ID_LENGTH} characters).")
        parsed.append(Operation(bulk_id, external_id, data))
    return parsed


_OPERATION_KEYS = frozenset({"method", "path", "bulkId", "data", "version"})


class RateLimiter:
    """A sliding one-second window of accepted calls per key (a job)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, per_second: int) -> None:
        """Count a call, or raise 429 with Retry-After when ``per_second`` calls were made in the
        last second. ``per_second`` 0 means no limit."""
        if per_second <= 0:
            return
        now = self._clock()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and now - calls[0] >= 1.0:
                calls.popleft()
            if len(calls) >= per_second:
                retry = max(1, math.ceil(1.0 - (now - calls[0])))
                raise TooManyRequests(
                    f"bulkUpload allows {per_second} requests per second per job; retry after {retry} s "
                    f"(for self-hosted use the job setting '{SETTING_REQUESTS_PER_SECOND}' raises or, with 0, "
                    "lifts the limit).", headers={"Retry-After": str(retry)})
            calls.append(now)
            if len(self._calls) > 10_000:  # forget idle jobs
                for stale in [k for k, v in self._calls.items() if not v or now - v[-1] >= 1.0]:
                    del self._calls[stale]


def setting(doc: dict, name: str, default: int) -> int:
    """An integer job setting (``synchronizationJobSettings``); ``default`` when unset or invalid."""
    for pair in doc.get("synchronizationJobSettings") or []:
        if pair.get("name") == name:
            value = (pair.get("value") or "").strip()
            return int(value) if value.isdigit() else default
    return default


# ------------------------------------------------------------------------------------------------
# Source attributes by SCIM path

class _Filter:
    """A SCIM value filter (``type eq "work" and primary eq true``): eq ne co sw ew pr, joined by
    and / or (and binds tighter); strings compare without regard to case."""

    _TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<word>[A-Za-z0-9_$.:+\-]+))')

    def __init__(self, text: str):
        self.text = text
        tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = self._TOKEN.match(text, position)
            if not match or match.end() == position:
                if text[position:].strip():
                    raise ValueError(f"cannot read the filter '{text}'")
                break
            kind = match.lastgroup
            tokens.append((kind, match.group(kind)))
            position = match.end()
        self.groups: list[list[tuple[str, str, Any]]] = [[]]
        i = 0
        while i < len(tokens):
            attribute = tokens[i][1]
            if i + 1 >= len(tokens):
                raise ValueError(f"incomplete filter '{text}'")
            operator = tokens[i + 1][1].lower()
            if operator == "pr":
                self.groups[-1].append((attribute, operator, None))
                i += 2
            else:
                if operator not in ("eq", "ne", "co", "sw", "ew") or i + 2 >= len(tokens):
                    raise ValueError(f"unsupported filter '{text}'")
                kind, literal = tokens[i + 2]
                self.groups[-1].append((attribute, operator, self._literal(kind, literal)))
                i += 3
            if i < len(tokens):
                joiner = tokens[i][1].lower()
                if joiner == "or":
                    self.groups.append([])
                elif joiner != "and":
                    raise ValueError(f"expected 'and' or 'or' in the filter '{text}'")
                i += 1
        self.matches: Callable[[dict], bool] = self._one_comparison() or self._any_group

    @staticmethod
    def _literal(kind: str, literal: str) -> Any:
        if kind == "string":
            return json.loads(literal)
        lowered = literal.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        return literal

    def _any_group(self, item: dict) -> bool:
        return any(all(self._clause(item, *clause) for clause in group) for group in self.groups)

    def _one_comparison(self) -> Callable[[dict], bool] | None:
        """``attr eq "text"``, the filter of nearly every mapping (``type eq "work"``), as one
        function; it answers as _clause does."""
        if len(self.groups) != 1 or len(self.groups[0]) != 1:
            return None
        attribute, operator, operand = self.groups[0][0]
        if operator != "eq" or operand.__class__ is not str:
            return None
        right = operand.lower()

        def equals(item: dict) -> bool:
            value = item.get(attribute)
            if value is None:
                value = _key(item, attribute)
                if value is None:
                    return False
            return (value if value.__class__ is str else str(value)).lower() == right
        return equals

    @staticmethod
    def _clause(item: dict, attribute: str, operator: str, operand: Any) -> bool:
        value = _key(item, attribute)
        if operator == "pr":
            return value not in (None, "", [])
        if isinstance(operand, bool) or operand is None:
            equal = value == operand
        else:
            left, right = str(value).lower() if value is not None else None, str(operand).lower()
            if operator in ("eq", "ne"):
                equal = left == right
            elif left is None:
                return False
            elif operator == "co":
                return right in left
            elif operator == "sw":
                return left.startswith(right)
            else:
                return left.endswith(right)
        return equal if operator == "eq" else not equal if operator == "ne" else False


def _split_path(path: str) -> list[tuple[str, _Filter | None]]:
    segments: list[tuple[str, _Filter | None]] = []
    i, n = 0, len(path)
    while i < n:
        j = i
        while j < n and path[j] not in ".[":
            j += 1
        name, flt = path[i:j].strip(), None
        if j < n and path[j] == "[":
            k, quoted = j + 1, False
            while k < n and (quoted or path[k] != "]"):
                if path[k] == "\\" and quoted:
                    k += 1
                elif path[k] == '"':
                    quoted = not quoted
                k += 1
            if k >= n:
                raise ValueError(f"unclosed '[' in '{path}'")
            flt = _Filter(path[j + 1:k])
            j = k + 1
        if not name:
            raise ValueError(f"empty attribute name in '{path}'")
        segments.append((name, flt))
        if j < n:
            if path[j] != ".":
                raise ValueError(f"expected '.' after ']' in '{path}'")
            j += 1
        i = j
    return segments


def _pick(flt: _Filter, child: Any) -> Any:
    """The item of a multi-valued attribute a filter selects (the primary one among several)."""
    items = child if child.__class__ is list else [child] if isinstance(child, dict) else ()
    matched = [item for item in items if isinstance(item, dict) and flt.matches(item)]
    if not matched:
        return None
    if len(matched) == 1:
        return matched[0]
    return next((item for item in matched if item.get("primary") is True), matched[0])


def _getter(name: str, flt: _Filter | None) -> Callable[[Any], Any]:
    def get(value: Any) -> Any:
        if value.__class__ is dict:
            child = value.get(name)
            if child is None:
                child = _key(value, name)
        elif value.__class__ is list:  # a multi-valued attribute without a filter: every value
            found: list[Any] = []
            for item in value:
                result = get(item) if item is not None else None
                if result is not None:
                    found.extend(result if result.__class__ is list else [result])
            return found or None
        else:
            return None
        if flt is not None and child is not None:
            child = _pick(flt, child)
        return child
    return get


def _chain(segments: list[tuple[str, _Filter | None]]) -> Callable[[Any], Any]:
    getters = [_getter(name, flt) for name, flt in segments]
    if len(getters) == 1:
        return getters[0]

    def run(value: Any) -> Any:
        for get in getters:
            value = get(value)
            if value is None:
                return None
        return value
    return run


def _number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _final(value: Any) -> Any:
    """Expression input: strings, booleans, string lists; complex values by their ``value``."""
    if value is None or value.__class__ is str or value.__class__ is bool:
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, dict):
        inner = _key(value, "value")
        return None if isinstance(inner, (dict, list)) else _final(inner)
    if isinstance(value, list):
        values = [v for v in (_final(item) for item in value) if v is not None]
        return values or None
    return None


@lru_cache(maxsize=4096)
def compile_source(name: str) -> Callable[[dict], Any]:
    """A reader of the source attribute ``name`` from a record's ``data``: one function for the
    usual shapes (_simple_reader), a chain of getters for the others."""
    head = name.split("[", 1)[0]
    if head.lower().startswith("urn:") and ":" in head[4:]:
        cut = head.rfind(":")
        namespace, path = name[:cut], name[cut + 1:]
        simple = _simple_reader(name, None, (namespace, path))
        if simple is not None:
            return simple
        try:
            read = _chain(_split_path(path))
        except ValueError:
            read = None

        def extension(data: dict) -> Any:
            scoped = data.get(namespace)
            if scoped is None:
                scoped = _key(data, namespace)
            if scoped.__class__ is dict and read is not None:
                value = read(scoped)
                if value is not None:
                    return _final(value)
            return _final(_key(data, name))  # a flat "urn:…:attr" key
        return extension
    try:
        segments = _split_path(name)
    except ValueError:
        return lambda data: _final(_key(data, name))
    simple = _simple_reader(name, segments)
    if simple is not None:
        return simple
    read = _chain(segments)

    def core(data: dict) -> Any:
        value = read(data)
        return value if value is None or value.__class__ is str else _final(value)
    return core


# ------------------------------------------------------------------------------------------------
# The job's schema, compiled for inbound records

# Target attributes of the Entra "User" object that graphsync's directory stores under another
# Graph property name; the rest of the Entra names a user body accepts are stored as they are.
GRAPH_NAMES = {"facsimileTelephoneNumber": "faxNumber", "mobile": "mobilePhone", "telephoneNumber": "businessPhones",
               "physicalDeliveryOfficeName": "officeLocation", "employeeOrgData.costCenter": "employeeOrgData",
               "employeeOrgData.division": "employeeOrgData"}
USER_PROPERTIES = frozenset({
    "accountEnabled", "businessPhones", "city", "companyName", "country", "department", "displayName",
    "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType", "faxNumber",
    "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation", "onPremisesImmutableId",
    "otherMails", "postalCode", "preferredLanguage", "state", "streetAddress", "surname", "usageLocation",
    "userPrincipalName", "userType"})
MULTI_VALUED = frozenset({"businessPhones", "otherMails"})
# Mapped in Entra's schema but with no place in graphsync's directory (no sign-in, no Exchange, no
# on-premises sync): evaluated and shown in the log's export step (logs.NOT_STORED_REASON), not stored.


@lru_cache(maxsize=1024)
def graph_property(target: str) -> str | None:
    """The directory (Graph user) property a target attribute of the mapping is stored in."""
    name = GRAPH_NAMES.get(target, target)
    return name if name in USER_PROPERTIES else None


@dataclass
class InboundPlan:
    rule: ObjectRule | None
    source_directory: str
    target_directory: str
    readers: dict[str, Callable[[dict], Any]]  # source attribute → reader
    matching: list[tuple[AttributeRule, str]]  # matching attributes in priority order, with their property
    manager: AttributeRule | None
    problem: str | None = None  # why records cannot be processed (no enabled user mapping…)
    stored: ObjectRule | None = None  # the rule with only the mappings the directory stores
    not_stored: tuple[str, ...] = ()  # mapped targets the directory has no place for (not evaluated)
    read_all: Callable[[dict], dict[str, Any]] | None = None  # every reader at once (see _reader_of_all)

    @property
    def source_object(self) -> str:
        return self.rule.source_object if self.rule else ENTERPRISE_USER

    @property
    def target_object(self) -> str:
        return self.rule.target_object if self.rule else "User"


def _attribute_names(node: expressions.Node | None) -> set[str]:
    from graphsync.expressions.nodes import walk
    return {n.name for n in walk(node) if isinstance(n, expressions.Attribute)} if node is not None else set()


def compile_plan(schema: dict[str, Any]) -> InboundPlan:
    """The first enabled user mapping of the job's schema, ready for records."""
    rules = schema.get("synchronizationRules") or []
    first = sorted(rules, key=lambda r: r.get("priority", 0))[0] if rules else {}
    source_dir = first.get("sourceDirectoryName") or "API"
    target_dir = first.get("targetDirectoryName") or "Microsoft Entra ID"
    try:
        compiled = compile_schema(schema)
    except expressions.ExpressionError as exc:
        return InboundPlan(None, source_dir, target_dir, {}, [], None,
                           f"the job's schema has an invalid expression: {exc}")
    rule = next((r for r in compiled if r.enabled and not r.group), None)
    if rule is None:
        return InboundPlan(None, source_dir, target_dir, {}, [], None,
                           "the job's schema has no enabled object mapping for users")
    names = {ANCHOR}
    for attribute in rule.attributes:
        names |= _attribute_names(attribute.source)
    for group in (rule.scope or {}).get("groups") or []:
        names |= {c.get("sourceOperandName") or "" for c in group.get("clauses") or []}
    matching = [(a, graph_property(a.target) or a.target) for a in rule.matching]
    manager = next((a for a in rule.reference_attributes if a.target == "manager"), None)
    stored = dataclasses.replace(rule, attributes=[a for a in rule.attributes
                                                   if a.reference or graph_property(a.target)])
    not_stored = tuple(a.target for a in rule.plain_attributes if not graph_property(a.target))
    ordered = [n for n in sorted(names) if n]
    return InboundPlan(rule, source_dir, target_dir, {n: compile_source(n) for n in ordered},
                       matching, manager, stored=stored, not_stored=not_stored, read_all=_reader_of_all(ordered))


def source_attributes(plan: InboundPlan, data: dict) -> dict[str, Any]:
    """The record's source attributes that have a value (an absent one reads as null)."""
    if plan.read_all is not None:
        return plan.read_all(data)
    return {name: value for name, read in plan.readers.items() if (value := read(data)) is not None}


_MISSING = object()


def _reader_of_all(names: list[str]) -> Callable[[dict], dict[str, Any]]:
    """One reader of every source attribute of a plan, with the values of their compile_source
    readers (those that are not null), in the order of ``names``; attributes under one filtered
    multi-valued attribute (``addresses[type eq "work"].locality``, ``….postalCode``…) pick that
    item once per record."""
    groups: dict[tuple[str, str], int] = {}
    pickers: list[Callable[[Any], Any]] = []
    steps: list[tuple[str, Callable[[dict], Any] | None, tuple[int, str | None, Any] | None]] = []
    for name in names:
        head = name.split("[", 1)[0]
        try:
            segments = None if head.lower().startswith("urn:") and ":" in head[4:] else _split_path(name)
        except ValueError:
            segments = None
        if segments is None or len(segments) < 2 or segments[0][1] is None:
            steps.append((name, compile_source(name), None))
            continue
        first_name, first_filter = segments[0]
        key = (first_name, first_filter.text)
        if key not in groups:
            groups[key] = len(pickers)
            pickers.append(_getter(first_name, first_filter))
        rest = segments[1:]
        field = rest[0][0] if len(rest) == 1 and rest[0][1] is None else None
        steps.append((name, None, (groups[key], field, None if field else _chain(rest))))

    def read_all(data: dict) -> dict[str, Any]:
        found: dict[str, Any] = {}
        picked = [_MISSING] * len(pickers)
        for name, reader, member in steps:
            if reader is not None:
                value = reader(data)
            else:
                index, field, rest = member
                item = picked[index]
                if item is _MISSING:
                    item = picked[index] = pickers[index](data)
                if item is None:
                    continue
                if field is None:
                    value = rest(item)
                else:
                    value = item.get(field)
                    if value is None:
                        value = _key(item, field)
                if value is not None and value.__class__ is not str:
                    value = _final(value)
            if value is not None:
                found[name] = value
        return found
    return read_all


def _simple_reader(name: str, segments: list[tuple[str, _Filter | None]] | None,
                   extension: tuple[str, str] | None = None) -> Callable[[dict], Any] | None:
    """A reader of ``name`` in one function (records are read for every batch's every record):
    a top-level attribute and ``a.b`` (``segments``), an extension's ``urn:…:attr``
    (``extension``: namespace, attribute); None for the other shapes."""
    if extension is not None:
        namespace, attribute = extension
        if not attribute or any(c in attribute for c in ".[]"):
            return None

        def read_extension(data: dict) -> Any:
            scoped = data.get(namespace)
            if scoped is None:
                scoped = _key(data, namespace)
            if scoped.__class__ is dict:
                value = scoped.get(attribute)
                if value is None:
                    value = _key(scoped, attribute)
                if value is not None:
                    return value if value.__class__ is str else _final(value)
            return _final(_key(data, name))  # a flat "urn:…:attr" key
        return read_extension
    if not segments or any(flt is not None for _, flt in segments) or len(segments) > 2:
        return None
    if len(segments) == 1:
        def read_top(data: dict) -> Any:
            value = data.get(name)
            if value is None:
                value = _key(data, name)
            return value if value is None or value.__class__ is str else _final(value)
        return read_top
    outer_name, inner_name = segments[0][0], segments[1][0]
    inner = _getter(inner_name, None)

    def read_nested(data: dict) -> Any:
        outer = data.get(outer_name)
        if outer is None:
            outer = _key(data, outer_name)
        if outer.__class__ is dict:
            value = outer.get(inner_name)
            if value is None:
                value = _key(outer, inner_name)
        elif outer is None:
            return None
        else:
            value = inner(outer)
        return value if value is None or value.__class__ is str else _final(value)
    return read_nested


# ------------------------------------------------------------------------------------------------
# What a record does

@dataclass(slots=True)
class Decision:
    kind: str  # create | update | disable | skip | fail
    action: str  # provisioning action of the log: create | update | disable | other
    reason: str = ""
    error_code: str | None = None
    writes: dict[str, Any] = field(default_factory=dict)  # Graph property → value
    shown: dict[str, Any] = field(default_factory=dict)  # target attribute → value as logged
    targets_of: dict[str, list[str]] = field(default_factory=dict)  # Graph property → target attributes
    not_stored: list[str] = field(default_factory=list)
    in_scope: bool = True
    manager: str | None = None  # externalId of the manager the record names


def match_value(rule: AttributeRule, attributes: dict[str, Any], context: expressions.EvaluationContext) -> str | None:
    """The value a matching attribute looks for in the directory (None: nothing to match on)."""
    if rule.source is None:
        return None
    value = expressions.unwrap(expressions.evaluate(rule.source, attributes, context))
    if value is expressions.IGNORE_FLOW or value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value in (None, "") else str(value)


def current_target_values(rule: ObjectRule, doc: dict | None) -> dict[str, Any]:
    """What the directory user holds for each mapped target attribute (for AttributeAddOnly)."""
    if not doc:
        return {}
    values: dict[str, Any] = {}
    for attribute in rule.plain_attributes:
        values[attribute.target] = _read_target(doc, attribute.target)
    return values


def _read_target(doc: dict, target: str) -> Any:
    prop = graph_property(target)
    if prop is None:
        return None
    value = doc.get(prop)
    if target.startswith("employeeOrgData."):
        return (value or {}).get(target.split(".", 1)[1])
    if prop == "businessPhones":
        return value[0] if value else None
    return value


def decide(plan: InboundPlan, attributes: dict[str, Any], current: dict | None, linked: bool,
           context: expressions.EvaluationContext, *, skip_out_of_scope_deletions: bool = False) -> Decision:
    """What to do with one record, given the directory user it matched (``current``, or None) and
    whether the job had linked that user to this record before."""
    rule = plan.rule
    if rule is None:
        return Decision("skip", "other", plan.problem or "nothing to do", "NoEnabledMapping")
    try:
        in_scope = expressions.scope_matches(rule.scope, attributes)
    except expressions.FilterError as exc:
        return Decision("fail", "other", f"The scoping filter cannot be evaluated: {exc}", "InvalidScopingFilter")
    if not in_scope:
        if current is not None and linked and current.get("accountEnabled") is not False \
                and not skip_out_of_scope_deletions and "Update" in rule.flow_types:
            return Decision("disable", "disable", "The record no longer passes the scoping filter: the user the job "
                            "provisioned is disabled.", writes={"accountEnabled": False},
                            shown={"accountEnabled": False}, targets_of={"accountEnabled": ["accountEnabled"]},
                            in_scope=False)
        return Decision("skip", "other", "The record does not pass the job's scoping filter; it is not provisioned.",
                        "NotInScope", in_scope=False)
    creating = current is None
    if creating and "Add" not in rule.flow_types:
        return Decision("skip", "other", "No directory user matches the record and the mapping's target object "
                        "actions do not include create (Add).", "AddNotEnabled")
    if not creating and "Update" not in rule.flow_types:
        return Decision("skip", "other", "The mapping's target object actions do not include update.",
                        "UpdateNotEnabled")
    try:
        evaluated = evaluate(plan.stored, attributes, context, creating=creating,
                             exported=current_target_values(plan.stored, current))
        manager = _reference(plan.manager, attributes, context)
    except expressions.EvaluationError as exc:
        return Decision("fail", "create" if creating else "update", f"An attribute mapping cannot be evaluated: "
                        f"{exc}", "AttributeMappingEvaluationFailed")
    writes, targets_of = _directory_writes(evaluated.values, current)
    return Decision("create" if creating else "update", "create" if creating else "update", writes=writes,
                    shown=evaluated.shown, targets_of=targets_of, not_stored=list(plan.not_stored), manager=manager)


def _reference(rule: AttributeRule | None, attributes: dict[str, Any],
               context: expressions.EvaluationContext) -> str | None:
    if rule is None or rule.source is None:
        return None
    value = expressions.unwrap(expressions.evaluate(rule.source, attributes, context))
    if value is expressions.IGNORE_FLOW or value in (None, "", []):
        return None
    if isinstance(value, list):
        value = value[0]
    return str(value)


_PLAIN, _ORG_DATA, _MULTI = 0, 1, 2
_WRITE_KINDS: dict[str, tuple[str | None, int]] = {}


def _write_kind(target: str) -> tuple[str | None, int]:
    """Where a target attribute's value goes: its Graph property and how it is written there."""
    kind = _WRITE_KINDS.get(target)
    if kind is None:
        prop = graph_property(target)
        if prop is not None and target.startswith("employeeOrgData."):
            kind = prop, _ORG_DATA
        else:
            kind = prop, _MULTI if prop in MULTI_VALUED else _PLAIN
        if len(_WRITE_KINDS) < 4096:
            _WRITE_KINDS[target] = kind
    return kind


def _directory_writes(values: dict[str, Any], current: dict | None
                      ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    writes: dict[str, Any] = {}
    targets_of: dict[str, list[str]] = {}
    kinds = _WRITE_KINDS
    for target, value in values.items():
        prop, kind = kinds.get(target) or _write_kind(target)
        if prop is None:
            continue
        if prop in targets_of:
            targets_of[prop].append(target)
        else:
            targets_of[prop] = [target]
        if kind == _PLAIN:
            writes[prop] = (value[0] if value else None) if value.__class__ is list else value
        elif kind == _ORG_DATA:
            base = writes.get(prop) or dict((current or {}).get("employeeOrgData") or {})
            base[target.split(".", 1)[1]] = None if value is None else str(value)
            writes[prop] = base
        else:
            writes[prop] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return writes, targets_of


def modified_properties(decision: Decision, before: dict | None, changed: list[str] | None
                        ) -> list[tuple[str, Any, Any]]:
    """(target attribute, old, new) for what the directory write changed (everything on create)."""
    if before is None and changed is None:  # a create: every mapped value is new
        shown = decision.shown
        return [(target, None, shown.get(target)) for targets in decision.targets_of.values() for target in targets]
    rows = []
    for prop, targets in decision.targets_of.items():
        if changed is not None and prop not in changed:
            continue
        for target in targets:
            old = _read_target(before, target) if before else None
            new = decision.shown.get(target)
            if changed is not None and log_text(old) == log_text(new) and not target.startswith("employeeOrgData"):
                continue
            rows.append((target, old, new))
    return rows


# ------------------------------------------------------------------------------------------------
# Provisioning log entries (provisioningObjectSummary)
#
# An entry is stored as its facts (``logs.INBOUND``): the job's systems once, the usual steps as
# [code, …] (import_step … export_step; the rare ones whole, ``step``), the modified properties
# as [name, old, new]; the tenant, job and cycle are the row's columns. ``logs.expand`` gives the
# Graph provisioningObjectSummary when the logs are read. A batch writes one entry per record: the
# full document would be ~2.5x the bytes, and with the steps worded an entry was 2.5 KB, a SQLite
# page of its own (1.6 KB now: two to a page).


@dataclass(frozen=True)
class LogContext:
    tenant_id: str
    job_id: str
    cycle_id: str
    service_principal_id: str
    service_principal_name: str
    source_directory: str
    target_directory: str
    source_object: str
    target_object: str
    application_id: str = ""  # the appId (targetSystem.details.ApplicationId in the logs)


def step(name: str, kind: str, status: str, description: str, details: dict | None = None) -> list[Any]:
    """A provisioning step as an entry stores it (see logs.expand)."""
    return [name, kind, status, description,
            {k: v if v.__class__ is str else log_text(v) for k, v in details.items()} if details else {}]


def import_step(attributes: dict[str, Any], existing: bool) -> list[Any]:
    """Received the record (``attributes``: its source attributes that have a value, as
    source_attributes gives them; shown as the step's details)."""
    return [logs.STEP_IMPORT, existing, attributes]


def scoping_step(decision: Decision, attributes: dict[str, Any]) -> list[Any]:
    return [logs.STEP_SCOPING, decision.in_scope, attributes.get("active")]


def matching_step(user_id: str | None, how: str) -> list[Any]:
    """No user matched (``user_id`` None: one will be created), or the user it was found as (``how``:
    "linked to", "matched on employeeId to")."""
    return [logs.STEP_NEW] if user_id is None else [logs.STEP_MATCHED, how, user_id]


def export_step(action: str, user_name: str, not_stored: list[str]) -> list[Any]:
    """The user was created, updated or (``other``) already up to date."""
    return [logs.STEP_EXPORT, action, user_name, not_stored]


def entry_json(log: LogContext, *, now: str, external_id: str, action: str, status: str, steps: list[list],
               target_id: str | None, target_name: str | None, source_name: str | None,
               modified: list[tuple[str, Any, Any]], error_code: str | None = None, reason: str | None = None,
               entry_id: str | None = None) -> tuple[str, str]:
    """One provisioning log entry as stored: (its id, its JSON text). The row's columns hold its
    tenant, job and cycle (logs.expand reads them from there)."""
    entry_id = entry_id or str(uuid.uuid4())
    return entry_id, _dumps({
        COMPACT: INBOUND, "id": entry_id, "at": now,
        "sp": [log.service_principal_id, log.service_principal_name, log.application_id],
        "systems": [log.source_directory, log.target_directory], "objects": [log.source_object, log.target_object],
        "source": [external_id, source_name or ""], "target": [target_id or "", target_name or ""],
        "action": action, "status": status, "error": [error_code, reason] if status == "failure" else None,
        "steps": steps, "modified": [[name, old if old is None or old.__class__ is str else log_text(old),
                                      new if new is None or new.__class__ is str else log_text(new)]
                                     for name, old, new in modified]})
