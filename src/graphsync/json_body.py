"""Reading a JSON request body into an object, with a Graph 400 for everything that is not one.
Shared by the API (every JSON body) and the inbound engine (SCIM bulk requests)."""
from __future__ import annotations

from typing import Any

from graphsync import codec
from graphsync.errors import BadRequest


def load_object(raw: bytes, *, prefix: str = "", expected: str = "a JSON object") -> dict[str, Any]:
    """The JSON object in ``raw``: malformed JSON, too deep nesting, a non-object, NUL characters
    (PostgreSQL cannot store them) and lone surrogates (``\\ud800``: JSON's syntax allows the
    escape, but it is no character, and UTF-8 cannot encode it for the database or a target) are
    each a 400 saying so, after ``prefix``."""
    try:
        body = codec.loads(raw)  # json.loads' result and errors, faster on large bulk uploads
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"{prefix}The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise BadRequest(f"{prefix}The request body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{prefix}The request body must be {expected}.")
    # a NUL comes from a \u0000 escape or a raw NUL byte (which UTF-16/32 bodies are full of), a
    # lone surrogate from a \uD800-\uDFFF escape or a UTF-16/32 body: without any of them the walk
    # over the whole document is skipped
    if b"\\u0000" in raw or b"\x00" in raw or b"\\ud" in raw or b"\\uD" in raw:
        try:
            bad = first_bad_text(body)
        except RecursionError:
            raise BadRequest(f"{prefix}The request body is nested too deeply.") from None
        if bad == "nul":
            raise BadRequest(f"{prefix}The request body contains a NUL character (\\u0000), which no property "
                             "accepts.")
        if bad == "surrogate":
            raise BadRequest(f"{prefix}The request body contains a lone UTF-16 surrogate (an escape from "
                             "\\ud800 to \\udfff that is not half of a pair), which is no character.")
    return body


def first_bad_text(value: Any) -> str | None:
    """'nul' or 'surrogate' for the first string (key or value) in ``value`` holding one, else None."""
    if isinstance(value, str):
        return _bad(value)
    if isinstance(value, dict):
        for key, item in value.items():
            bad = _bad(key) or first_bad_text(item)
            if bad:
                return bad
    elif isinstance(value, list):
        for item in value:
            bad = first_bad_text(item)
            if bad:
                return bad
    return None


def _bad(text: str) -> str | None:
    if "\x00" in text:
        return "nul"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "surrogate"
    return None
