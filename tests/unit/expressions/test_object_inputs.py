"""Attribute values that are not strings: JSON objects, lists of objects, numbers, booleans, null.

A parseExpression test input may hold any JSON. Every function either returns a value or fails
with the language's own ``EvaluationError`` (which parseExpression answers as
``evaluationSucceeded: false``); no other exception may escape (found by fuzzing: Split and
FormatDateTime of an object raised AttributeError, a 500). An object that is not an
appRoleAssignments entry reads as its compact JSON text.
"""
from __future__ import annotations

import itertools
from typing import Any

import pytest

from graphsync.expressions import (
    FUNCTIONS,
    IGNORE_FLOW,
    EvaluationError,
    for_log,
    scope_matches,
    to_strings,
)
from graphsync.expressions.functions import ArityError
from graphsync.models import ParseExpressionBody
from graphsync.services.parse_expression import answer

from .helpers import context, run

INPUTS = {
    "object": {"a": 1},
    "empty object": {},
    "list of objects": [{"a": 1}, {"b": 2, "c": 3}],
    "number": 5,
    "boolean": True,
    "null": None,
}
# a plausible constant per parameter type, for the arguments that are not the input
FILLER = {"Integer": "1", "Boolean": '"True"', "DateTime": '"2021-08-18"'}
MAX_ARGUMENTS = 7


def _binds(spec, count: int):
    try:
        return spec.bind(count)
    except ArityError:
        return None


def _calls(spec) -> list[str]:
    """Calls of ``spec`` taken from the registry's parameters: the fewest and the most arguments
    it takes (up to ``MAX_ARGUMENTS``); each argument is the input ``[x]``, a constant, or (when
    the parameter is optional) an empty slot."""
    counts = [n for n in range(MAX_ARGUMENTS + 1) if _binds(spec, n) is not None]
    calls = []
    for count in sorted({counts[0], counts[-1]}):
        choices = [["[x]", FILLER.get(p.type, '"a,b"')] + ([] if p.required else [""])
                   for p in _binds(spec, count)]
        for args in itertools.product(*choices):
            calls.append(f"{spec.name}({', '.join(args)})")
    return calls


def test_the_calls_cover_every_function_with_the_input():
    for spec in FUNCTIONS.values():
        calls = _calls(spec)
        assert calls, spec.name
        assert any("[x]" in call for call in calls) or not spec.params, spec.name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("kind", list(INPUTS))
def test_every_function_returns_a_value_or_an_evaluation_error(name, kind):
    value = INPUTS[kind]
    for call in _calls(FUNCTIONS[name]):
        try:
            result = run(call, {"x": value})
        except EvaluationError:
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{call} with {kind} {value!r} raised {type(exc).__name__}: {exc}")
        if result is not IGNORE_FLOW:
            shown = to_strings(for_log(result))  # what parseExpression answers
            assert shown is None or all(isinstance(s, str) for s in shown), (call, shown)


def test_split_of_an_object_splits_its_json_text():
    assert run('Split([x], ",")', {"x": {"a": 1}}) == ['{"a":1}']
    assert run('Split([x], ",")', {"x": {"a": 1, "b": 2}}) == ['{"a":1', '"b":2}']
    assert run('Split([x], ",")', {"x": [{"a": 1}, "p, q"]}) == ['{"a":1}', "p", "q"]


def test_format_date_time_of_an_object_is_an_evaluation_error():
    for value in ({"a": 1}, [{"a": 1}]):
        with pytest.raises(EvaluationError, match=r"""FormatDateTime: '\{"a":1\}' does not match"""):
            run('FormatDateTime([x], , "yyyy", "yyyy")', {"x": value})


def test_an_app_role_entry_still_reads_as_its_role():
    assert run('Append([x], "!")', {"x": {"value": "Admin", "displayName": "Administrator"}}) == "Admin!"
    assert run("CStr([x])", {"x": {"a": 1}}) == '{"a":1}'
    assert run('Join("|", [x], "b")', {"x": [{"a": 1}, {"id": "42"}]}) == '{"a":1}|42|b'


def test_a_scoping_filter_on_an_object_attribute_compares_its_text():
    def ends_with(operand: str) -> dict[str, Any]:
        return {"groups": [{"clauses": [{"sourceOperandName": "x", "operatorName": "ENDS_WITH",
                                         "targetOperand": {"values": [operand]}}]}]}
    assert scope_matches(ends_with("1}"), {"x": {"a": 1}})
    assert not scope_matches(ends_with("z"), {"x": {"a": 1}})


def _answer(expression: str, value: Any) -> dict[str, Any]:
    body = ParseExpressionBody.model_validate(
        {"expression": expression, "testInputObject": {"properties": [{"key": "x", "value": value}]}})
    return answer(body, context())


def test_parse_expression_answers_split_of_an_object():
    result = _answer('Split([x], ",")', {"a": 1})
    assert result["parsingSucceeded"] and result["evaluationSucceeded"] and result["error"] is None
    assert result["evaluationResult"] == ['{"a":1}']


@pytest.mark.parametrize("value", [{"a": 1}, [{"a": 1}]])
def test_parse_expression_answers_format_date_time_of_an_object_with_an_error(value):
    result = _answer('FormatDateTime([x], , "yyyy", "yyyy")', value)
    assert result["parsingSucceeded"] and not result["evaluationSucceeded"]
    assert result["evaluationResult"] is None
    assert result["error"]["code"] == "EvaluationFailed" and result["error"]["target"] == "testInputObject"
    assert result["error"]["message"] == """FormatDateTime: '{"a":1}' does not match the date format 'yyyy'"""
