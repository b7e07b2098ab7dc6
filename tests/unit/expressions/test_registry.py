"""The function table is the single source of truth for the parser, the evaluator and the listing."""
from __future__ import annotations

import pytest

from graphsync.expressions import FUNCTIONS, function_schemas, parse, to_source
from graphsync.expressions.functions import ArityError

DOCUMENTED = [
    "Append", "AppRoleAssignments", "AppRoleAssignmentsComplex", "AssertiveAppRoleAssignmentsComplex", "BitAnd",
    "CBool", "CDate", "Coalesce", "ConvertToBase64", "ConvertToUTF8Hex", "Count", "CStr", "DateAdd", "DateDiff",
    "DateFromNum", "DefaultDomain", "FormatDateTime", "Guid", "IgnoreFlowIfNullOrEmpty", "IIF", "InStr", "IsNull",
    "IsNullOrEmpty", "IsPresent", "IsString", "Item", "Join", "Left", "Mid", "NormalizeDiacritics", "Not", "Now",
    "NumFromDate", "PCase", "RandomString", "Redact", "RemoveDuplicates", "Replace", "SelectUniqueValue",
    "SingleAppRoleAssignment", "Split", "StripSpaces", "Switch", "ToLower", "ToUpper", "Word",
]
TYPES = {"String", "Integer", "Boolean", "DateTime", "Reference", "Binary"}


def test_every_documented_function_is_registered():
    assert sorted(FUNCTIONS) == sorted(DOCUMENTED)


def test_listing_shape_and_order():
    schemas = function_schemas()
    assert [s["name"] for s in schemas] == sorted(DOCUMENTED, key=str.lower)
    for schema in schemas:
        assert set(schema) == {"id", "name", "parameters"} and schema["id"] == schema["name"]
        for param in schema["parameters"]:
            assert set(param) == {"allowMultipleOccurrences", "name", "required", "type"}
            assert param["type"] in TYPES and isinstance(param["required"], bool)


def test_listing_matches_the_documented_examples():
    by_name = {s["name"]: s for s in function_schemas()}
    assert by_name["Append"]["parameters"] == [
        {"allowMultipleOccurrences": False, "name": "source", "required": True, "type": "String"},
        {"allowMultipleOccurrences": False, "name": "suffix", "required": True, "type": "String"}]
    assert by_name["DefaultDomain"]["parameters"] == []
    assert [p["name"] for p in by_name["AppRoleAssignments"]["parameters"]] == ["source"]
    assert [p["name"] for p in by_name["Replace"]["parameters"]] == [
        "source", "Find", "regexPattern", "regexGroupName", "Replacement", "replacementAttributeName", "template"]
    assert [p["name"] for p in by_name["FormatDateTime"]["parameters"]] == [
        "source", "dateTimeStyles", "inputFormat", "outputFormat"]
    join = by_name["Join"]["parameters"]
    assert join[1] == {"allowMultipleOccurrences": True, "name": "source", "required": True, "type": "String"}


def test_parse_tree_keys_are_listed_parameter_names():
    """Whatever key the parse tree uses is a parameter name published by the listing."""
    samples = [
        'Replace([a], "b", "c", "d", "e", [f], "g")', 'Switch([a], "d", "k", "v")', 'Coalesce([a], "x")',
        'FormatDateTime([a], , "yyyy", "yy")', 'InStr([a], "b", 1, vbTextCompare)', "RandomString(8, 1, 1, 1, 1, \"x\")",
        'Word([a], 1, " ")', 'Left([a], 1)', 'IIF([a] = "b", "c", "d")', 'SelectUniqueValue([a], [b], [c])',
        'DateAdd("d", 1, Now())', 'DateDiff("d", Now(), Now())', 'PCase([a], " ")', 'ToLower([a], "en-US")',
    ]
    listed = {s["name"]: {p["name"] for p in s["parameters"]} for s in function_schemas()}
    for text in samples:
        tree = to_source(parse(text))
        assert {p["key"] for p in tree["parameters"]} <= listed[tree["name"]], text


@pytest.mark.parametrize("name", DOCUMENTED)
def test_minimal_call_of_every_function_parses(name):
    spec = FUNCTIONS[name]
    for count in range(0, 9):
        try:
            params = spec.bind(count)
        except ArityError:
            continue
        args = ", ".join('"1"' for _ in params)
        if name == "IIF":
            args = '[a] = "1", "x", "y"'
        text = f"{name}({args})"
        node = parse(text)
        assert node.name == name and len(node.args) == count
        return
    pytest.fail(f"no argument count accepted by {name}")


def test_arity_errors_describe_the_signature():
    with pytest.raises(ArityError) as info:
        FUNCTIONS["InStr"].bind(5)
    assert str(info.value) == "InStr takes 2 to 4 arguments, got 5: InStr(value1, value2, [start], [compareType])"
