"""Evaluator: markers, tracing, context injection, input coercion and compilation."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from graphsync.expressions import (
    IGNORE_FLOW,
    EvaluationContext,
    EvaluationError,
    Redacted,
    compile_expression,
    evaluate,
    evaluate_traced,
    for_log,
    parse,
    to_strings,
    unwrap,
)
from graphsync.expressions.evaluator import compare_values

from .helpers import context, run


def test_trace_lists_sub_expressions_in_evaluation_order():
    node = parse('Join("@", ToLower([givenName]), "contoso.com")')
    value, trace = evaluate_traced(node, {"givenName": "Ann"}, context())
    assert value == "ann@contoso.com"
    assert trace == [
        ('"@"', "@"),
        ("[givenName]", "Ann"),
        ("ToLower([givenName])", "ann"),
        ('"contoso.com"', "contoso.com"),
        ('Join("@", ToLower([givenName]), "contoso.com")', "ann@contoso.com"),
    ]


def test_trace_shows_switch_keys_up_to_the_match():
    node = parse('Switch([s], "d", "a", "1", "b", "2", "c", "3")')
    value, trace = evaluate_traced(node, {"s": "b"}, context())
    assert value == "2"
    assert [text for text, _ in trace] == ["[s]", '"a"', '"b"', '"2"', node_text(node)]


def node_text(node):
    from graphsync.expressions import render
    return render(node)


def test_trace_of_comparison_and_empty_slot():
    node = parse('IIF([n] > 5, "big", "small")')
    _, trace = evaluate_traced(node, {"n": "7"}, context())
    assert trace == [("[n]", "7"), ("5", "5"), ("[n] > 5", "True"), ('"big"', "big"),
                     ('IIF([n] > 5, "big", "small")', "big")]


def test_trace_masks_everything_that_touches_redact():
    node = parse('Join(":", "id", Redact([secret]))')
    value, trace = evaluate_traced(node, {"secret": "p@ss"}, context())
    assert isinstance(value, Redacted) and value.value == "id:p@ss"
    shown = dict((text, str(v)) for text, v in trace)
    assert shown['"id"'] == "id"  # unrelated constants stay visible
    assert shown["[secret]"] == shown["Redact([secret])"] == shown['Join(":", "id", Redact([secret]))'] == "[Redact]"
    assert "p@ss" not in repr(trace)


def test_trace_records_ignore_flow_up_the_chain():
    node = parse('Append(IgnoreFlowIfNullOrEmpty([a]), "x")')
    value, trace = evaluate_traced(node, {}, context())
    assert value is IGNORE_FLOW
    assert trace == [("[a]", None), ("IgnoreFlowIfNullOrEmpty([a])", IGNORE_FLOW),
                     ('Append(IgnoreFlowIfNullOrEmpty([a]), "x")', IGNORE_FLOW)]


def test_redacted_marker_never_shows_the_value():
    marker = Redacted("secret")
    assert str(marker) == "[Redact]" and "secret" not in repr(marker) and f"{marker}" == "[Redact]"
    assert unwrap(marker) == "secret" and for_log(marker) == "[Redact]"
    assert unwrap("plain") == "plain" and for_log("plain") == "plain"
    assert repr(IGNORE_FLOW) == "IGNORE_FLOW"


def test_redact_in_an_untaken_branch_still_redacts():
    result = run('IIF("True", [a], Redact([b]))', {"a": "visible", "b": "hidden"})
    assert isinstance(result, Redacted) and result.value == "visible"


def test_default_context_uses_the_real_clock_and_no_domain():
    node = parse("Now()")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    value = evaluate(node, {})
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M", value)
    assert evaluate(parse("DefaultDomain()"), {}) is None
    assert evaluate(parse("SelectUniqueValue([a], [b])"), {"a": "x", "b": "y"}) == "x"
    assert before.year <= int(value.split(" ")[0].split("/")[2])


def test_context_is_injected():
    ctx = EvaluationContext(clock=lambda: datetime(2000, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                            default_domain="fabrikam.com")
    assert evaluate(parse("Now()"), {}, ctx) == "1/2/2000 3:04:05 AM"
    assert evaluate(parse("DefaultDomain()"), {}, ctx) == "fabrikam.com"


@pytest.mark.parametrize("value, expected", [
    (True, "True"), (False, "False"), ([True, "x"], ["True", "x"]), ((1, 2), [1, 2]), (5, 5), (None, None),
])
def test_attribute_values_are_coerced(value, expected):
    assert run("[a]", {"a": value}) == expected


def test_attributes_may_be_none_or_any_mapping():
    from types import MappingProxyType
    assert evaluate(parse("[a]"), None) is None
    assert evaluate(parse("[a]"), MappingProxyType({"a": "x"})) == "x"


def test_compilation_is_cached_on_the_node():
    node = parse("ToUpper([a])")
    first = compile_expression(node)
    assert compile_expression(node) is first
    assert first.evaluate({"a": "x"}) == "X"
    assert first.evaluate_traced({"a": "x"})[1][-1] == ("ToUpper([a])", "X")


def test_evaluation_is_repeatable_and_independent():
    node = parse('Join(".", [a], [b])')
    assert [evaluate(node, {"a": str(i), "b": "z"}) for i in range(3)] == ["0.z", "1.z", "2.z"]


def test_unknown_value_types_are_used_through_their_string_form():
    class Custom:
        def __str__(self):
            return "custom"

    assert run("Mid([a], 1, 3)", {"a": Custom()}) == "cus"


def test_internal_type_errors_become_evaluation_errors():
    with pytest.raises(EvaluationError) as info:
        run("RemoveDuplicates([a])", {"a": [{1}, {1}]})  # sets are not hashable
    assert "cannot evaluate RemoveDuplicates([a])" in str(info.value)
    assert isinstance(info.value.__cause__, TypeError)


def test_errors_from_value_exists_propagate_unchanged():
    class TargetDown(Exception):
        pass

    def exists(value):
        raise TargetDown

    with pytest.raises(TargetDown):
        run('SelectUniqueValue("a", "b")', {}, context(value_exists=exists))


@pytest.mark.parametrize("op, left, right, numeric, expected", [
    ("=", "a", "a", False, True),
    ("=", "a", "A", False, False),
    ("<>", "a", "A", False, True),
    ("=", None, None, False, False),
    ("<>", "", "x", False, False),
    ("=", "01", "1", True, True),
    ("=", "01", "1", False, False),
    ("=", 1, "01", False, True),
    ("<", "9", "10", False, True),
    ("<", "b", "a", False, False),
    (">=", "2021-01-02", "1/2/2021", False, True),
    ("=", "TRUE", "true", False, True),
    ("<=", ["3", "9"], "3", False, True),
])
def test_compare_values(op, left, right, numeric, expected):
    assert compare_values(op, left, right, numeric) is expected


def test_to_strings():
    assert to_strings(None) is None
    assert to_strings("x") == ["x"]
    assert to_strings(7) == ["7"]
    assert to_strings(["a", 1, None]) == ["a", "1", ""]
    assert to_strings([{"value": "Admin", "primary": False}]) == ['{"value":"Admin","primary":false}']
