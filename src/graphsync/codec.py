"""Fast JSON for the hot paths (database documents, SCIM bodies): orjson, falling back to the
standard library for the rare values orjson refuses (integers beyond 64 bits)."""
from __future__ import annotations

import json
from typing import Any

import orjson

loads = orjson.loads


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(value).encode()


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()
