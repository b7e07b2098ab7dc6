"""attributeMappingSource trees: to_source (canonical shapes) and from_source (the inverse)."""
from __future__ import annotations

import pytest

from graphsync.expressions import ExpressionError, evaluate, from_source, parse, render, to_source


def attr(name):
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def const(value):
    return {"expression": '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"', "name": value,
            "parameters": [], "type": "Constant"}


def test_attribute_and_constant_shapes():
    assert to_source(parse("[mail]")) == attr("mail")
    assert to_source(parse('"8"')) == const("8")
    assert to_source(parse("8")) == const("8")  # numbers become quoted constants
    assert to_source(parse('"say \\"hi\\" \\\\ bye"')) == {
        "expression": '"say \\"hi\\" \\\\ bye"', "name": 'say "hi" \\ bye', "parameters": [], "type": "Constant"}


def test_mid_tree_from_the_docs():
    assert to_source(parse("Mid([userPrincipalName], 1, 8)")) == {
        "expression": "Mid([userPrincipalName], 1, 8)", "name": "Mid", "type": "Function",
        "parameters": [{"key": "source", "value": attr("userPrincipalName")},
                       {"key": "start", "value": const("1")},
                       {"key": "length", "value": const("8")}]}


def test_replace_tree_from_the_parse_expression_docs():
    assert to_source(parse('Replace([preferredLanguage], "-", , , "_", , )')) == {
        "expression": 'Replace([preferredLanguage], "-", , , "_", , )', "name": "Replace", "type": "Function",
        "parameters": [{"key": "source", "value": attr("preferredLanguage")},
                       {"key": "Find", "value": const("-")},
                       {"key": "Replacement", "value": const("_")}]}


@pytest.mark.parametrize("text, keys", [
    ('Replace([a], , "re", "g", , [b], )', ["source", "regexPattern", "regexGroupName", "replacementAttributeName"]),
    ('Replace([a], "x", , , , , "t")', ["source", "Find", "template"]),
    ('Switch([a], , "1", "x", "2", "y")', ["source", "key", "value", "key", "value"]),
    ('Switch([a], "d", "1", "x")', ["source", "defaultValue", "key", "value"]),
    ('Join(".", [a], [b], [c])', ["separator", "source", "source", "source"]),
    ('Coalesce([a], [b], "")', ["source", "source", "source"]),
    ("Not([IsSoftDeleted])", ["source"]),
    ("RandomString(16, 2, 2, 2, 2)", ["Length", "MinimumNumbers", "MinimumSpecialCharacters", "MinimumCapital",
                                      "MinimumLowerCase"]),
    ('FormatDateTime([d], , "yyyyMMdd", "yyyy")', ["source", "inputFormat", "outputFormat"]),
    ('FormatDateTime([d], "yyyyMMdd", "yyyy")', ["source", "inputFormat", "outputFormat"]),
    ('InStr([a], "b", 2, vbTextCompare)', ["value1", "value2", "start", "compareType"]),
    ("SelectUniqueValue([a], [b])", ["uniqueValueRule", "uniqueValueRule"]),
])
def test_parameter_keys(text, keys):
    assert [p["key"] for p in to_source(parse(text))["parameters"]] == keys


def test_comparison_and_bare_word_shapes():
    tree = to_source(parse('IIF([c] = "USA", "a", "b")'))
    condition = tree["parameters"][0]
    assert condition["key"] == "condition"
    assert condition["value"] == {"expression": '[c] = "USA"', "name": "=", "type": "Function",
                                  "parameters": [{"key": "left", "value": attr("c")},
                                                 {"key": "right", "value": const("USA")}]}
    compare_type = to_source(parse('InStr([a], "b", 1, vbTextCompare)'))["parameters"][3]["value"]
    assert compare_type == {"expression": "vbTextCompare", "name": "vbTextCompare", "parameters": [],
                            "type": "Constant"}


EXPRESSIONS = [
    "[mail]", '"x"', "-10", "&HF",
    'Replace([preferredLanguage], "-", , , "_", , )',
    'Switch([Active], , "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), "0", "False")',
    'Join("", Replace([userName], , "(?<Suffix>@(.)*)", "Suffix", "", , ), RandomString(3, 3, 0, 0, 0, ), "@", DefaultDomain())',
    'InStr("repEated", "e", 3, vbBinaryCompare)',
    'FormatDateTime([x], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
    "Coalesce([a], [b], )",
    'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr."))',
]


def _strip_expressions(tree):
    tree = {k: v for k, v in tree.items() if k != "expression"}
    tree["parameters"] = [{"key": p["key"], "value": _strip_expressions(p["value"])} for p in tree["parameters"]]
    return tree


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_from_source_uses_the_expression(text):
    node = parse(text)
    if text in ("-10", "&HF"):  # a top-level number's tree is a quoted constant (same value)
        assert from_source(to_source(node)).value == node.value
    else:
        assert from_source(to_source(node)) == node


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_from_source_rebuilds_from_the_tree_alone(text):
    node = parse(text)
    rebuilt = from_source(_strip_expressions(to_source(node)))
    # Rebuilt trees evaluate the same; numbers come back as string constants and trailing
    # empty slots are not recreated, so compare the trees without the text.
    assert _strip_expressions(to_source(rebuilt)) == _strip_expressions(to_source(node))


def test_rebuilt_replace_evaluates_like_the_original():
    tree = _strip_expressions(to_source(parse('Replace([preferredLanguage], "-", , , "_", , )')))
    node = from_source(tree)
    assert render(node) == 'Replace([preferredLanguage], "-", , , "_")'
    assert evaluate(node, {"preferredLanguage": "EN-US"}) == "EN_US"


def test_from_source_tolerates_nulls_from_models():
    assert from_source({"expression": None, "name": "mail", "parameters": None, "type": "Attribute"}) == parse("[mail]")
    assert from_source({"name": "mail"}) == parse("[mail]")


@pytest.mark.parametrize("tree, fragment", [
    ({"expression": "Foo([a])"}, "unknown function"),
    ({"name": "Foo", "type": "Function", "parameters": []}, "unknown function"),
    ({"name": "Mid", "type": "Function", "parameters": [{"key": "source", "value": attr("a")}]}, "Mid takes 3"),
    ({"name": "Mid", "type": "Function", "parameters": [{"key": "bogus", "value": attr("a")}]}, "no parameter 'bogus'"),
    ({"name": "Append", "type": "Function",
      "parameters": [{"key": "source", "value": attr("a")}, {"key": "source", "value": attr("b")}]}, "given twice"),
    ({"name": "Join", "type": "Function",
      "parameters": [{"key": "source", "value": attr("a")}, {"key": "source", "value": attr("b")}]},
     "should be 'separator'"),
    ({"name": "x", "type": "Nonsense"}, "unknown type"),
    ({"type": "Constant"}, "needs a name"),
    ({"name": "a]b", "type": "Attribute"}, "invalid attribute name"),
    ({"name": "Not", "type": "Function", "parameters": [{"key": "source", "value": "oops"}]}, "must be an object"),
    ({"name": "Not", "type": "Function", "parameters": [{"value": attr("a")}]}, "without a key"),
    ("not a dict", "must be an object"),
])
def test_from_source_errors(tree, fragment):
    with pytest.raises(ExpressionError) as info:
        from_source(tree)
    assert fragment in str(info.value)


def test_from_source_rebuilds_switch_without_default():
    tree = {"name": "Switch", "type": "Function", "parameters": [
        {"key": "source", "value": attr("a")}, {"key": "key", "value": const("1")}, {"key": "value", "value": const("x")}]}
    node = from_source(tree)
    assert render(node) == 'Switch([a], , "1", "x")'
    assert evaluate(node, {"a": "1"}) == "x"


def test_from_source_rebuilds_comparisons():
    tree = _strip_expressions(to_source(parse('IIF([a] >= 3, "big", "small")')))
    node = from_source(tree)
    assert render(node) == 'IIF([a] >= "3", "big", "small")'
    assert evaluate(node, {"a": "4"}) == "big"


def test_from_source_without_root_expression_ignores_nested_texts():
    tree = to_source(parse('IIF([c] = "USA", "a", "b")'))
    del tree["expression"]
    assert from_source(tree) == parse('IIF([c] = "USA", "a", "b")')


def test_from_source_accepts_nested_nodes_given_by_text_only():
    tree = {"name": "ToUpper", "type": "Function", "parameters": [{"key": "source", "value": {"expression": "[a]"}}]}
    assert from_source(tree) == parse("ToUpper([a])")
