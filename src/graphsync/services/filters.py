"""OData $filter on documents stored as JSON: ``prop eq 'v'``, ``startswith(prop,'v')``,
``flag eq true`` and ``prop eq null``, joined by ``and`` and ``or`` (``and`` binds tighter, as in
OData), on the properties a resource lists as
filterable; anything else is a 400 that says what is supported. Strings compare without regard to
case, as Graph's directory does.

A filter has at most ``MAX_TERMS`` comparisons, and no parentheses (so no nesting): SQLite refuses
a statement whose expression tree is deeper than 1,000 (``Expression tree is too large``), and
``a or b or …`` is a chain as deep as it is long, so ~1,000 terms used to be a 500."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, func, or_

from graphsync.errors import BadRequest


@dataclass(frozen=True)
class Clause:
    prop: str
    op: str  # 'eq' | 'startswith'
    value: str | bool | None


# Comparisons one $filter may hold (and/or together): far more than a lookup needs (Microsoft's
# CSV2SCIM script sends two), far below the depth SQLite refuses.
MAX_TERMS = 100


def too_many_terms() -> BadRequest:
    return BadRequest(f"The $filter has more than {MAX_TERMS} comparisons; at most {MAX_TERMS} (joined by 'and' or "
                      "'or') are supported. Split the query into several requests.", code="Request_UnsupportedQuery")


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])"
                    r"|(?P<other>[^\s(),']+|'))")


def parse_filter(text_: str, kind: str, strings: tuple[str, ...], booleans: tuple[str, ...]
                 ) -> list[list[Clause]]:
    """The filter as alternatives (joined by ``or``), each a list of clauses that must all hold
    (joined by ``and``)."""
    if "\x00" in text_:
        raise BadRequest("The $filter contains a NUL character.", code="Request_UnsupportedQuery")
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _TOKEN.finditer(text_) if m.lastgroup]
    position = 0

    def fail(detail: str) -> BadRequest:
        return BadRequest(f"Invalid $filter '{text_}': {detail}. Supported: 'property eq value' and "
                          "'startswith(property,'value')' joined by 'and' or 'or'.", code="Request_UnsupportedQuery")

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise fail("unexpected end of the expression")
        token = tokens[position]
        if expected is not None and token[1].lower() != expected:
            raise fail(f"expected '{expected}' but found '{token[1]}'")
        position += 1
        return token

    def known(prop: str) -> str:
        if prop not in strings and prop not in booleans:
            raise BadRequest(f"Unsupported or invalid query filter clause specified for property '{prop}' of "
                             f"resource '{kind}'.", code="Request_UnsupportedQuery")
        return prop

    def literal() -> str | bool | None:
        category, value = take()
        if category == "string":
            return value[1:-1].replace("''", "'")
        if category == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if category == "word" and value.lower() == "null":
            return None
        raise fail(f"'{value}' is not a supported literal")

    alternatives: list[list[Clause]] = [[]]
    clauses = alternatives[0]
    terms = 0
    while True:
        terms += 1
        if terms > MAX_TERMS:
            raise too_many_terms()
        category, word = take()
        if category != "word":
            raise fail(f"unexpected '{word}'")
        if word.lower() == "startswith":
            take("(")
            prop = known(take()[1])
            take(",")
            value = literal()
            take(")")
            if prop not in strings or not isinstance(value, str):
                raise fail("startswith needs a string property and a string value")
            clauses.append(Clause(prop, "startswith", value))
        else:
            prop = known(word)
            operator = take()[1].lower()
            if operator != "eq":
                raise fail(f"the operator '{operator}' is not supported")
            value = literal()
            if prop in booleans and not isinstance(value, bool):
                raise fail(f"'{prop}' compares to true or false")
            if prop in strings and isinstance(value, bool):
                raise fail(f"'{prop}' compares to a quoted string")
            clauses.append(Clause(prop, "eq", value))
        if position == len(tokens):
            return alternatives
        joiner = take()[1].lower()
        if joiner == "or":
            clauses = []
            alternatives.append(clauses)
        elif joiner != "and":
            raise fail(f"expected 'and' or 'or' but found '{joiner}'")


def _like_prefix(value: str) -> str:
    return value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def condition(table, clause: Clause):
    if clause.prop == "id":
        column = table.c.id
    elif isinstance(clause.value, bool):
        return table.c.doc[clause.prop].as_boolean() == clause.value
    else:
        column = table.c.doc[clause.prop].as_string()
    if clause.value is None:
        return column.is_(None)
    if clause.op == "startswith":
        return func.lower(column).like(_like_prefix(clause.value), escape="\\")
    return func.lower(column) == clause.value.lower()


def conditions(table, filter_text: str | None, kind: str, strings, booleans) -> list:
    """The SQL conditions of ``filter_text`` (none without one), for ``where(*…)``."""
    if not filter_text or not filter_text.strip():
        return []
    alternatives = parse_filter(filter_text, kind, strings, booleans)
    if len(alternatives) == 1:
        return [condition(table, c) for c in alternatives[0]]
    return [or_(*(and_(*(condition(table, c) for c in clauses)) for clauses in alternatives))]


def matching(items: list[dict], filter_text: str | None, kind: str, strings, booleans) -> list[dict]:
    """The items of a small in-memory collection that ``filter_text`` selects, compared as the
    database comparisons of ``condition`` compare."""
    if not filter_text or not filter_text.strip():
        return items
    alternatives = parse_filter(filter_text, kind, strings, booleans)
    return [item for item in items
            if any(all(_holds(item.get(c.prop), c) for c in clauses) for clauses in alternatives)]


def _holds(value, clause: Clause) -> bool:
    if clause.value is None or isinstance(clause.value, bool):
        return value is clause.value
    if not isinstance(value, str):
        return False
    if clause.op == "startswith":
        return value.lower().startswith(clause.value.lower())
    return value.lower() == clause.value.lower()
