"""Property tests: the parser only ever raises ExpressionError, generated trees round-trip
through render/parse and to_source/from_source, and evaluation only raises EvaluationError."""
from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphsync.expressions import (
    FUNCTIONS,
    IGNORE_FLOW,
    Attribute,
    BareWord,
    Comparison,
    Constant,
    EvaluationContext,
    EvaluationError,
    ExpressionError,
    Function,
    Redacted,
    evaluate,
    from_source,
    parse,
    render,
    to_source,
)
from graphsync.expressions.functions import ArityError
from graphsync.expressions.nodes import COMPARISON_OPERATORS

TOKENS = ["(", ")", ",", " ", "\n", "[", "]", '"', "\\", "-", "&H", "&", "=", "<>", ">=", "<", "1", "0F", "a",
          "Mid", "IIF", "CBool", "Switch", "Replace", "Join", "Now", "vbTextCompare", "SelectUniqueValue",
          "[x]", '"s"', "Not(", "Coalesce("]


def _parse_or_expression_error(text: str) -> None:
    try:
        node = parse(text)
    except ExpressionError as exc:
        assert 0 <= exc.position <= len(text)
        return
    assert parse(render(node)) == node


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_parser_never_raises_anything_but_expression_error_on_text(text):
    _parse_or_expression_error(text)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_parser_never_raises_anything_but_expression_error_on_token_soup(text):
    _parse_or_expression_error(text)


# ---------------------------------------------------------------- generated trees
ATTRIBUTE_NAMES = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-", min_size=1, max_size=16),
    st.sampled_from(['addresses[type eq "work"].country', "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"]),
)
NUMBERS = st.one_of(
    st.integers(-10**6, 10**6).map(lambda i: Constant(str(i), literal=str(i))),
    st.integers(0, 2**32).map(lambda i: Constant(str(i), literal=f"&H{i:X}")),
)
LEAVES = st.one_of(ATTRIBUTE_NAMES.map(Attribute), st.text(max_size=12).map(Constant), NUMBERS)
NESTABLE = sorted(name for name, spec in FUNCTIONS.items() if not spec.top_level_only)


@st.composite
def expressions(draw, depth: int = 0, top: bool = False):
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return draw(LEAVES)
    names = sorted(FUNCTIONS) if top else NESTABLE
    spec = FUNCTIONS[draw(st.sampled_from(names))]
    counts = []
    for count in range(0, 9):
        try:
            counts.append((count, spec.bind(count)))
        except ArityError:
            pass
    count, params = draw(st.sampled_from(counts))
    args = []
    for index, param in enumerate(params):
        if not param.required and draw(st.booleans()):
            args.append(None)
        elif (spec.name == "IIF" and index == 0 or spec.name == "CBool") and draw(st.booleans()):
            args.append(Comparison(draw(st.sampled_from(COMPARISON_OPERATORS)),
                                   draw(expressions(depth + 1)), draw(expressions(depth + 1))))
        elif spec.name == "InStr" and index == 3 and draw(st.booleans()):
            args.append(BareWord(draw(st.sampled_from(["vbTextCompare", "vbBinaryCompare"]))))
        else:
            args.append(draw(expressions(depth + 1)))
    return Function(spec.name, tuple(args))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(top=True))
def test_render_round_trips(node):
    text = render(node)
    reparsed = parse(text)
    assert reparsed == node
    assert render(reparsed) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(top=True))
def test_source_tree_round_trips(node):
    tree = to_source(node)
    assert tree["expression"] == (render(node) if not isinstance(node, Constant) else tree["expression"])
    rebuilt = from_source(tree)
    if isinstance(node, Constant):
        assert rebuilt.value == node.value
    else:
        assert rebuilt == node


ATTRIBUTE_VALUES = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["True", "false", "2021-03-16-07:00", "8/25/2021 5:41:18 PM",
                                                      "12", "-3", "&HF", "", "a,b", "x@y.com"]),
    st.booleans(), st.integers(-1000, 1000), st.lists(st.text(max_size=6), max_size=3),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(top=True), st.dictionaries(ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, max_size=4), st.integers(0, 99))
def test_evaluation_only_raises_evaluation_error(node, attributes, seed):
    # feed every attribute the expression mentions, so evaluation goes deep
    values = list(attributes.values()) or [None]
    names = {n.name for n in _walk(node) if isinstance(n, Attribute)}
    attributes.update({name: values[i % len(values)] for i, name in enumerate(sorted(names))})
    ctx = EvaluationContext(rng=random.Random(seed), default_domain="contoso.com",
                            value_exists=lambda value: len(value) % 2 == 0)
    try:
        result = evaluate(node, attributes, ctx)
    except EvaluationError:
        return
    assert result is IGNORE_FLOW or isinstance(result, (Redacted, str, int, list)) or result is None


def _walk(node):
    from graphsync.expressions.nodes import walk
    return walk(node)
