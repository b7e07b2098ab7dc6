"""Reading a JSON request body into an object, with a Graph 400 for everything that is not one.
Shared by the API (every JSON body) and the inbound engine (SCIM bulk requests)."""
from __future__ import annotations

from typing import Any

from graphsync import codec
from graphsync.errors import BadRequest


def load_object(raw: bytes, *, prefix: str = "", expected: str = "a JSON object") -> dict[str, Any]:
    """The JSON object in ``raw``: malformed JSON, too deep nesting, a non-object and NUL
    characters (PostgreSQL cannot store them) are each a 400 saying so, after ``prefix``."""
    try:
        body = codec.loads(raw)  # json.loads' result and errors, faster on large bulk uploads
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"{prefix}The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise BadRequest(f"{prefix}The request body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise BadRequest(f"{prefix}The request body must be {expected}.")
    try:
        # a NUL can only come from a \u0000 escape or a raw NUL byte (which UTF-16/32 bodies are
        # full of): without either, the walk over the whole document is skipped
        nul = (b"\\u0000" in raw or b"\x00" in raw) and has_nul(body)
    except RecursionError:
        raise BadRequest(f"{prefix}The request body is nested too deeply.") from None
    if nul:
        raise BadRequest("The request body contains a NUL character (\\u0000), which no property accepts.")
    return body


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False
