"""Fast JSON for the hot paths (database documents, SCIM bodies): orjson, falling back to the
standard library for what orjson refuses or would read differently (integers beyond 64 bits:
orjson writes none and reads them as floats)."""
from __future__ import annotations

import json
import math
from typing import Any

import orjson

_DIGITS = bytes(1 if 0x30 <= byte <= 0x39 else 0 for byte in range(256))
_LONG_INTEGER = b"\x01" * 19  # 19 digits in a row: maybe an integer beyond 64 bits


def loads(data: bytes | str) -> Any:
    """What ``json.loads`` makes of ``data`` (and its errors), mostly at orjson's speed: orjson
    reads it unless a run of 19+ digits may be an integer beyond 64 bits (~0.7 µs/KB to check) or
    orjson refuses it (UTF-16, lone surrogates, invalid JSON: the standard parser accepts or
    explains). NaN, Infinity and numbers beyond a double's range are refused as orjson does:
    RFC 8259 has none of them."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if raw.translate(_DIGITS).find(_LONG_INTEGER) < 0:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw, parse_constant=_not_a_number, parse_float=_finite)


def _not_a_number(name: str) -> None:
    """JSON has no NaN or Infinity (the standard parser reads them; nothing could write them back)."""
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()
