"""Scoping filters: operators, null rules, group/clause logic, validation and the listing."""
from __future__ import annotations

import pytest

from graphsync.expressions import (
    FilterError,
    clause_matches,
    filter_operator_schemas,
    groups_match,
    scope_matches,
    validate_filter,
)


def clause(operator, attribute="a", *values):
    return {"operatorName": operator, "sourceOperandName": attribute, "targetOperand": {"values": list(values)}}


def matches(operator, value, *operands):
    attributes = {} if value is ... else {"a": value}
    return clause_matches(clause(operator, "a", *operands), attributes)


@pytest.mark.parametrize("operator, value, operands, expected", [
    ("EQUALS", "Sales", ["Sales"], True),
    ("EQUALS", "sales", ["Sales"], False),  # case sensitive
    ("EQUALS", True, ["True"], True),
    ("EQUALS", 5, ["5"], True),
    ("EQUALS", "b", ["a", "b"], True),  # several values: any of them
    ("NOT EQUALS", "Sales", ["Sales"], False),
    ("NOT EQUALS", "sales", ["Sales"], True),
    ("NOT EQUALS", "b", ["a", "b"], False),
    ("IS TRUE", "True", [], True),
    ("IS TRUE", "true", [], True),
    ("IS TRUE", True, [], True),
    ("IS TRUE", "False", [], False),
    ("IS TRUE", "yes", [], False),
    ("IS FALSE", False, [], True),
    ("IS FALSE", "FALSE", [], True),
    ("IS FALSE", "True", [], False),
    ("IS NULL", "x", [], False),
    ("IS NOT NULL", "x", [], True),
    ("REGEX MATCH", "ann@domain.com", [r".*\@domain.com"], True),
    ("REGEX MATCH", "ann@other.com", [r".*\@domain.com"], False),
    ("REGEX MATCH", "1234567", ["(1[0-9][0-9][0-9][0-9][0-9][0-9])"], True),
    ("REGEX MATCH", "x55y", ["([1-9][0-9])"], True),  # .NET IsMatch: a match anywhere
    ("REGEX MATCH", "ABC", ["abc"], False),  # case sensitive
    ("REGEX MATCH", "2021-01", [r"(?<year>\d{4})-\k<year>"], False),
    ("NOT REGEX MATCH", "ann@domain.com", [r".*\@domain.com"], False),
    ("NOT REGEX MATCH", "ann@other.com", [r".*\@domain.com"], True),
    ("Greater_Than", "10", ["9"], True),
    ("Greater_Than", "9", ["9"], False),
    ("Greater_Than", 10, ["9"], True),
    ("Greater_Than", "ten", ["9"], False),  # both must be integers
    ("Greater_Than", "10", ["nine"], False),
    ("Greater_Than_OR_EQUALS", "9", ["9"], True),
    ("Greater_Than_OR_EQUALS", "8", ["9"], False),
    ("Includes", "Engineering", ["gin"], True),
    ("Includes", "Engineering", ["GIN"], False),
    ("ENDS_WITH", "ann@contoso.com", ["@contoso.com"], True),
    ("ENDS_WITH", "ann@contoso.com.au", ["@contoso.com"], False),
    ("&", "Sales", ["Sales,Marketing"], True),  # attribute value exists in the clause value
    ("&", "Support", ["Sales,Marketing"], False),
    ("!&", "Support", ["Sales,Marketing"], True),
    ("!&", "Sales", ["Sales,Marketing"], False),
])
def test_operators(operator, value, operands, expected):
    assert matches(operator, value, *operands) is expected


@pytest.mark.parametrize("operator, operands", [
    ("EQUALS", ["x"]), ("NOT EQUALS", ["x"]), ("IS TRUE", []), ("IS FALSE", []), ("IS NOT NULL", []),
    ("REGEX MATCH", [".*"]), ("NOT REGEX MATCH", ["x"]), ("Greater_Than", ["0"]), ("Greater_Than_OR_EQUALS", ["0"]),
    ("Includes", [""]), ("ENDS_WITH", [""]), ("&", ["x"]), ("!&", ["x"]),
])
@pytest.mark.parametrize("empty", [..., None, "", []])
def test_null_or_empty_attribute_makes_every_operator_false_except_is_null(operator, operands, empty):
    assert matches(operator, empty, *operands) is False
    assert matches("IS NULL", empty) is True


def test_multi_valued_attributes_need_every_value_to_match():
    assert matches("ENDS_WITH", ["a@x.com", "b@x.com"], "@x.com") is True
    assert matches("ENDS_WITH", ["a@x.com", "b@y.com"], "@x.com") is False
    assert matches("NOT EQUALS", ["a", "b"], "c") is True
    assert matches("IS NULL", ["", None]) is True
    assert matches("EQUALS", ["a", ""], "a") is False


def test_binary_operator_without_values_is_false():
    assert clause_matches({"operatorName": "EQUALS", "sourceOperandName": "a"}, {"a": "x"}) is False


def test_unknown_operator_raises():
    with pytest.raises(FilterError):
        matches("LIKE", "x", "y")


def test_invalid_regex_raises():
    with pytest.raises(FilterError):
        matches("REGEX MATCH", "x", "(")


DOCS_FILTER = {"groups": [{"name": "AD On Premise users", "clauses": [
    {"operatorName": "EQUALS", "sourceOperandName": "dirSyncEnabled", "targetOperand": {"values": ["True"]}}]}],
    "inputFilterGroups": [], "categoryFilterGroups": []}


def test_docs_filter_example():
    assert scope_matches(DOCS_FILTER, {"dirSyncEnabled": True}) is True
    assert scope_matches(DOCS_FILTER, {"dirSyncEnabled": False}) is False
    assert scope_matches(DOCS_FILTER, {}) is False


def test_no_filter_or_no_groups_means_everything_is_in_scope():
    assert scope_matches(None, {}) is True
    assert scope_matches({}, {}) is True
    assert scope_matches({"groups": [], "inputFilterGroups": []}, {}) is True
    assert scope_matches({"groups": None}, {}) is True


def test_clauses_are_anded_and_groups_ored():
    new_york_engineers = {"name": "NY eng", "clauses": [
        clause("EQUALS", "state", "New York"),
        clause("EQUALS", "department", "Engineering"),
        clause("Greater_Than_OR_EQUALS", "employeeId", "1000000"),
        clause("IS NOT NULL", "jobTitle"),
    ]}
    contractors = {"name": "contractors", "clauses": [clause("ENDS_WITH", "mail", "@vendor.com")]}
    scope = {"groups": [new_york_engineers, contractors]}
    engineer = {"state": "New York", "department": "Engineering", "employeeId": "1500000", "jobTitle": "Dev"}
    assert scope_matches(scope, engineer) is True
    assert scope_matches(scope, {**engineer, "jobTitle": ""}) is False
    assert scope_matches(scope, {**engineer, "state": "Ohio"}) is False
    assert scope_matches(scope, {**engineer, "state": "Ohio", "mail": "x@vendor.com"}) is True


def test_groups_match_for_other_group_lists():
    assert groups_match([{"clauses": [clause("IS TRUE", "accountEnabled")]}], {"accountEnabled": True}) is True
    assert groups_match([], {}) is True
    assert groups_match([{"clauses": []}], {}) is True


def test_validate_accepts_good_filters():
    assert validate_filter(DOCS_FILTER) == []
    assert validate_filter(None) == []
    assert validate_filter({"groups": [{"clauses": [
        {"operatorName": "IS NULL", "sourceOperandName": "a", "targetOperand": None},
        {"operatorName": "IS TRUE", "sourceOperandName": "a", "targetOperand": {"values": []}},
        {"operatorName": "IS FALSE", "sourceOperandName": "a", "targetOperand": {"values": None}},
        clause("Greater_Than", "n", "10"),
        clause("REGEX MATCH", "n", r"^(?<x>\d+)$"),
    ]}]}) == []


@pytest.mark.parametrize("filter_, fragment", [
    ("nope", "must be an object"),
    ({"groups": "x"}, "groups must be a list"),
    ({"groups": ["x"]}, "groups[0] must be an object"),
    ({"groups": [{"clauses": "x"}]}, "groups[0].clauses must be a list"),
    ({"groups": [{"clauses": ["x"]}]}, "groups[0].clauses[0] must be an object"),
    ({"groups": [{"clauses": [clause("LIKE", "a", "x")]}]}, "groups[0].clauses[0].operatorName: unknown operator 'LIKE'"),
    ({"groups": [{"clauses": [clause("equals", "a", "x")]}]}, "unknown operator 'equals'"),
    ({"groups": [{"clauses": [clause("EQUALS", "", "x")]}]}, "sourceOperandName: an attribute name is required"),
    ({"groups": [{"clauses": [clause("EQUALS", "a")]}]}, "EQUALS is binary and needs a value"),
    ({"groups": [{"clauses": [clause("IS NULL", "a", "x")]}]}, "IS NULL is unary and takes no values, got 1"),
    ({"groups": [{"clauses": [clause("Greater_Than", "a", "1.5")]}]}, "needs an integer value, got '1.5'"),
    ({"groups": [{"clauses": [clause("REGEX MATCH", "a", "(")]}]}, "invalid regular expression"),
    ({"groups": [{"clauses": [{"operatorName": "EQUALS", "sourceOperandName": "a",
                               "targetOperand": {"values": [1]}}]}]}, "must be a list of strings"),
    ({"inputFilterGroups": [{"clauses": [clause("NOPE", "a")]}]}, "inputFilterGroups[0].clauses[0]"),
    ({"categoryFilterGroups": [{"clauses": [clause("NOPE", "a")]}]}, "categoryFilterGroups[0].clauses[0]"),
])
def test_validate_reports_problems(filter_, fragment):
    problems = validate_filter(filter_)
    assert any(fragment in p for p in problems), problems


def test_operator_listing():
    schemas = filter_operator_schemas()
    names = [s["name"] for s in schemas]
    assert names == ["EQUALS", "NOT EQUALS", "IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL", "REGEX MATCH",
                     "NOT REGEX MATCH", "Greater_Than", "Greater_Than_OR_EQUALS", "Includes", "ENDS_WITH", "&", "!&"]
    for item in schemas:
        assert set(item) == {"id", "name", "arity", "multivaluedComparisonType", "supportedAttributeTypes"}
        assert item["id"] == item["name"]
        assert item["arity"] in ("Binary", "Unary")
        assert item["multivaluedComparisonType"] in ("All", "Any")
        assert set(item["supportedAttributeTypes"]) <= {"String", "Integer", "Reference", "Binary", "Boolean",
                                                        "DateTime"}
    by_name = {s["name"]: s for s in schemas}
    assert by_name["EQUALS"] == {"id": "EQUALS", "name": "EQUALS", "arity": "Binary",
                                 "multivaluedComparisonType": "All", "supportedAttributeTypes": ["String", "Integer"]}
    assert {n for n, s in by_name.items() if s["arity"] == "Unary"} == {"IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL"}
