"""Request bodies: the fast parser reads ordinary JSON; what it refuses, the standard parser
still accepts or explains, so no body is judged differently than before."""
from __future__ import annotations

import json

import pytest

from graphsync.errors import BadRequest
from graphsync.json_body import load_object


def test_an_ordinary_body_reads_as_its_object():
    body = {"displayName": "Zoë", "n": [1, 2.5, True, None], "nested": {"a": "b"}}
    assert load_object(json.dumps(body).encode()) == body


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_bodies_in_other_unicode_encodings_still_read(encoding):
    assert load_object('{"displayName": "Zoë"}'.encode(encoding)) == {"displayName": "Zoë"}


def test_escaped_surrogate_pairs_read_as_their_character():
    assert load_object(b'{"a": "\\ud83d\\ude80"}') == {"a": "\U0001F680"}


def test_integers_beyond_64_bits_still_read():
    assert load_object(b'{"big": 123456789012345678901234567890}') == {"big": 123456789012345678901234567890}


@pytest.mark.parametrize("raw, message", [
    (b'{"a": }', "The request body is not valid JSON: Expecting value: line 1 column 7 (char 6)."),
    (b"[1, 2]", "The request body must be a JSON object."),
    (b"[" * 100_000 + b"]" * 100_000, "The request body is nested too deeply."),
    (b'{"a": "x\\u0000y"}', "NUL character"),
    (b'{"a": "x\\uD800y"}', "lone UTF-16 surrogate"),
    (b'{"\\udc00": 1}', "lone UTF-16 surrogate"),
    (b'{"a": ["\\ude80\\ud83d"]}', "lone UTF-16 surrogate"),  # a pair in the wrong order is two lone halves
])
def test_what_is_not_an_object_is_a_400_saying_why(raw, message):
    with pytest.raises(BadRequest) as caught:
        load_object(raw)
    assert message in caught.value.message


def test_stored_documents_keep_integers_beyond_64_bits_exactly():
    """orjson reads such integers as floats: a worker record's numeric externalId would change."""
    from graphsync import codec
    doc = {"externalId": 123456789012345678901234567890, "small": 42, "phone": "+47 1234567890123456789"}
    assert codec.loads(codec.dumps(doc)) == doc
    assert codec.loads(codec.dumps(doc).encode()) == doc
    assert isinstance(codec.loads(b'{"n": -9223372036854775809}')["n"], int)
