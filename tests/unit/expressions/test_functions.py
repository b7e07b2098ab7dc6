"""Edge cases per function: null, empty, multi-valued, out-of-range indexes, bad numbers."""
from __future__ import annotations

import random

import pytest

from graphsync.expressions import (
    IGNORE_FLOW,
    EvaluationError,
    NoUniqueValueError,
    Redacted,
    evaluate,
    evaluate_traced,
    parse,
)

from .helpers import context, run

# (expression, attributes, expected)
CASES = [
    # Append
    ('Append([a], "x")', {}, None),
    ('Append([a], [b])', {"a": "v"}, "v"),
    ('Append([a], "x")', {"a": ["1", "2"]}, ["1x", "2x"]),
    ('Append([a], "x")', {"a": 5}, "5x"),
    # AppRoleAssignments family
    ("AppRoleAssignments([r])", {"r": ["Admin", {"value": "Reader", "displayName": "Read only"}]}, ["Admin", "Reader"]),
    ("AppRoleAssignments([r])", {}, None),
    ("SingleAppRoleAssignment([r])", {}, None),
    ("SingleAppRoleAssignment([r])", {"r": [{"displayName": "Admin"}]}, "Admin"),
    ("AppRoleAssignmentsComplex([r])", {}, None),
    ("AssertiveAppRoleAssignmentsComplex([r])", {"r": [{"value": "25", "displayName": "Role1234"}]},
     [{"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": "Role1234", "value": "25"}]),
    # BitAnd
    ('BitAnd("12", "10")', {}, 8),
    ("BitAnd([a], 1)", {}, None),
    ("BitAnd(-1, &HFF)", {}, 255),
    # CBool
    ('CBool("true")', {}, "True"),
    ('CBool("0")', {}, "False"),
    ('CBool("2")', {}, "True"),
    ("CBool([missing])", {}, "False"),
    ('CBool("abc")', {}, "False"),
    ("CBool([a] > 5)", {"a": "10"}, "True"),
    ("CBool([a] > 5)", {"a": "3"}, "False"),
    ("CBool([a] = [b])", {"a": "x"}, "False"),
    # CDate
    ("CDate([d])", {}, None),
    ("CDate([d])", {"d": ["2021-01-01", "2021-01-02T10:00:00Z"]}, ["1/1/2021 12:00:00 AM", "1/2/2021 10:00:00 AM"]),
    ('CDate("8/25/2021 5:41:18 PM")', {}, "8/25/2021 5:41:18 PM"),
    ('CDate("Wed, 25 Aug 2021 17:41:18 GMT")', {}, "8/25/2021 5:41:18 PM"),
    ('CDate("August 25, 2021")', {}, "8/25/2021 12:00:00 AM"),
    ('CDate("20210825174118.0Z")', {}, "8/25/2021 5:41:18 PM"),
    ('CDate("2021-08-25 12:00:00.123+05:30")', {}, "8/25/2021 6:30:00 AM"),
    # Coalesce
    ("Coalesce([a], [b])", {}, None),
    ('Coalesce([a], [b], "default")', {}, "default"),
    ('Coalesce([a], [b], "default")', {"a": ""}, ""),
    ('Coalesce([a], [b], "default")', {"a": [], "b": ["x"]}, ["x"]),
    ("Coalesce([a], IgnoreFlowIfNullOrEmpty([b]))", {"a": "first"}, "first"),
    ("Coalesce([a], , [b])", {"b": "b"}, "b"),
    # ConvertToBase64 / ConvertToUTF8Hex
    ("ConvertToBase64([a])", {}, None),
    ('ConvertToBase64("é")', {}, "6QA="),
    ("ConvertToBase64([a])", {"a": ["A", "B"]}, ["QQA=", "QgA="]),
    ('ConvertToUTF8Hex("é€")', {}, "C3A9E282AC"),
    ("ConvertToUTF8Hex([a])", {}, None),
    # Count
    ("Count([a])", {}, 0),
    ("Count([a])", {"a": []}, 0),
    ("Count([a])", {"a": "x"}, 1),
    ("Count(Split([a], \",\"))", {"a": "x,y,z"}, 3),
    # CStr
    ("CStr([a])", {"a": 42}, "42"),
    ("CStr([a])", {"a": True}, "True"),
    ("CStr([a])", {"a": [1, 2]}, ["1", "2"]),
    ("CStr([a])", {}, None),
    ("CStr(Count([a]))", {"a": ["x", "y"]}, "2"),
    # DateAdd
    ('DateAdd("m", 1, CDate("2021-01-31"))', {}, "2/28/2021 12:00:00 AM"),
    ('DateAdd("yyyy", 1, CDate("2020-02-29"))', {}, "2/28/2021 12:00:00 AM"),
    ('DateAdd("q", 1, CDate("2021-01-15"))', {}, "4/15/2021 12:00:00 AM"),
    ('DateAdd("h", 25, CDate("2021-01-15"))', {}, "1/16/2021 1:00:00 AM"),
    ('DateAdd("n", -1, CDate("2021-01-15"))', {}, "1/14/2021 11:59:00 PM"),
    ('DateAdd("s", 61, CDate("2021-01-15"))', {}, "1/15/2021 12:01:01 AM"),
    ('DateAdd("D", 1, "2021-01-15")', {}, "1/16/2021 12:00:00 AM"),
    ('DateAdd("d", 1, [d])', {}, None),
    ('DateAdd("d", [n], Now())', {}, None),
    # DateDiff
    ('DateDiff("q", "2021-01-01", "2021-12-31")', {}, 3),
    ('DateDiff("d", "2021-01-02T12:00:00Z", "2021-01-01T00:00:00Z")', {}, -1),
    ('DateDiff("w", "2021-01-01", "2021-01-20")', {}, 2),
    ('DateDiff("d", [a], Now())', {}, None),
    # DateFromNum
    ("DateFromNum(0)", {}, "1/1/1601 12:00:00 AM"),
    ("DateFromNum([a])", {}, None),
    # DefaultDomain, Guid are in the context tests
    # FormatDateTime
    ('FormatDateTime([d], , "yyyyMMdd", "yyyy-MM-dd")', {}, None),
    ('FormatDateTime([d], "yyyyMMdd", "dd.MM.yy")', {"d": "20210304"}, "04.03.21"),
    ('FormatDateTime([d], , "M/d/yyyy h:mm:ss tt", "dddd, MMMM d, yyyy HH:mm")', {"d": "8/25/2021 5:41:18 PM"},
     "Wednesday, August 25, 2021 17:41"),
    ('FormatDateTime([d], , "yyyy-MM-ddTHH:mm:ssK", "o")', {"d": "2021-08-25T17:41:18Z"},
     "2021-08-25T17:41:18.0000000Z"),
    ('FormatDateTime([d], , "yyyy-MM-ddzzz", "yyyy-MM-dd HH:mm zzz")', {"d": "2021-06-30+08:00"},
     "2021-06-29 16:00 +00:00"),
    ('FormatDateTime([d], , "dd MMM yyyy", "yyyyMMdd")', {"d": " 05 feb 2021 "}, "20210205"),
    ('FormatDateTime([d], , "yyyyMMdd", "yyyy")', {"d": ["20210101", "19991231"]}, ["2021", "1999"]),
    # IIF
    ('IIF("True", "y", "n")', {}, "y"),
    ('IIF([flag], "y", "n")', {"flag": True}, "y"),
    ('IIF([flag], "y", "n")', {"flag": "false"}, "n"),
    ('IIF([flag], "y", "n")', {}, "n"),
    ('IIF("1", "y", IgnoreFlowIfNullOrEmpty([missing]))', {}, "y"),
    ('IIF([a] <> "x", "y", "n")', {}, "n"),
    ('IIF([a] < [b], "y", "n")', {"a": "9", "b": "10"}, "y"),
    ('IIF([a] < [b], "y", "n")', {"a": "apple", "b": "banana"}, "y"),
    ('IIF([a] = 10, "y", "n")', {"a": "010"}, "y"),
    ('IIF([a] = "10", "y", "n")', {"a": "010"}, "n"),
    ('IIF([a] = "true", "y", "n")', {"a": True}, "y"),
    ('IIF(CDate([a]) > CDate([b]), "later", "earlier")', {"a": "2021-02-01", "b": "2021-01-15"}, "later"),
    # InStr
    ('InStr("abc", "z")', {}, 0),
    ('InStr("ABC", "b", 1, vbTextCompare)', {}, 2),
    ('InStr("ABC", "b", 1, vbBinaryCompare)', {}, 0),
    ('InStr("ABC", "b", 1, "1")', {}, 2),
    ('InStr("abc", "c", 10)', {}, 0),
    ('InStr("abc", "", 2)', {}, 2),
    ('InStr([a], "x")', {}, None),
    # Is*
    ("IsString([a])", {"a": "x"}, "True"),
    ("IsString([a])", {"a": ["x"]}, "False"),
    ("IsString([a])", {}, "False"),
    ("IsString(Count([a]))", {}, "False"),
    ("IsNull([a])", {"a": []}, "True"),
    ("IsNullOrEmpty([a])", {"a": []}, "True"),
    ("IsPresent([a])", {"a": ["x"]}, "True"),
    # Item
    ("Item([a], 2)", {"a": ["x", "y"]}, "y"),
    ("Item([a], 3)", {"a": ["x", "y"]}, None),
    ("Item([a], 0)", {"a": ["x", "y"]}, None),
    ("Item([a], -1)", {"a": ["x", "y"]}, None),
    ("Item([a], 1)", {"a": "single"}, "single"),
    ("Item([a], 1)", {}, None),
    # Join
    ('Join(",", [a], [b])', {}, None),
    ('Join(",", [a], "")', {}, ""),
    ('Join(",", [a], [b])', {"a": ["x", "y"], "b": "z"}, "x,y,z"),
    ('Join([sep], [a], [b])', {"a": "x", "b": "y"}, "xy"),
    ('Join("-", [a], [b])', {"a": 1, "b": True}, "1-True"),
    # Left
    ('Left([a], 3)', {}, ""),
    ('Left("abc", 0)', {}, ""),
    ('Left("abc", -1)', {}, "abc"),
    ('Left("abc", 10)', {}, "abc"),
    ('Left([a], 1)', {"a": ["xy", "zw"]}, ["x", "z"]),
    # Mid
    ('Mid("abc", 4, 2)', {}, ""),
    ('Mid("abc", 2, 0)', {}, ""),
    ('Mid("abc", 2, 10)', {}, "bc"),
    ('Mid([a], 1, 1)', {}, None),
    ('Mid([a], 1, 1)', {"a": ["xy", "zw"]}, ["x", "z"]),
    # NormalizeDiacritics
    ("NormalizeDiacritics([a])", {}, None),
    ('NormalizeDiacritics("Ельцин Ῥόδος")', {}, "Ельцин Ῥόδος"),
    ('NormalizeDiacritics("José Müller-Lüdenscheidt")', {}, "Jose Muller-Ludenscheidt"),
    ("NormalizeDiacritics([a])", {"a": ["Zoë", "Chloé"]}, ["Zoe", "Chloe"]),
    # Not
    ("Not([a])", {}, "True"),
    ('Not("true")', {}, "False"),
    ('Not("yes")', {}, "True"),
    # NumFromDate
    ('NumFromDate("1601-01-01T00:00:00Z")', {}, 0),
    ("NumFromDate([a])", {}, None),
    # PCase
    ('PCase("3RD STREET")', {}, "3Rd Street"),
    ('PCase("O\'NEIL")', {}, "O'neil"),
    ('PCase("JEAN-LUC PICARD")', {}, "Jean-Luc Picard"),
    ('PCase("mcdonald_o\'brien", "")', {}, "Mcdonald_O'brien"),
    ("PCase([a])", {}, None),
    ('PCase("ÉMILE ZOLA")', {}, "Émile Zola"),
    # RemoveDuplicates
    ("RemoveDuplicates([a])", {"a": "x"}, "x"),
    ("RemoveDuplicates([a])", {}, None),
    ("RemoveDuplicates([a])", {"a": [{"v": 1}, {"v": 1}, {"v": 2}]}, [{"v": 1}, {"v": 2}]),
    # Replace
    ('Replace([a], "x", , , "y", , )', {}, None),
    ('Replace([a], "x", , , "y", , )', {"a": ["x1", "2x"]}, ["y1", "2y"]),
    ('Replace([a], "", , , "y", , )', {"a": "abc"}, "abc"),
    ('Replace([a], "x", , , [b], , )', {"a": "axa"}, "aa"),
    ('Replace([a], "<u>", , , , , "<u>@x.com")', {}, None),
    ('Replace([a], , "(\\\\w+)@(\\\\w+)", , "$2 at $1 $$ $& ${missing}", , )', {"a": "ann@corp"},
     "corp at ann $ ann@corp ${missing}"),
    ('Replace([a], , "\\\\d", , "\\\\n", , )', {"a": "a1"}, "a\\n"),
    ('Replace([a], , "(?<first>\\\\w)(?<rest>\\\\w*)", , "${rest}${first}", , )', {"a": "hello"}, "elloh"),
    ('Replace([a], , "(?<d>\\\\d)\\\\k<d>", , "#", , )', {"a": "1122 34"}, "## 34"),
    ('Replace([tel], , "(?<n>\\\\d+)", "n", , [mobile], )', {"tel": "555"}, "555"),
    ('Replace([tel], , "(?<n>\\\\d+)", "n", , [mobile], )', {"mobile": "none"}, None),
    ('Replace([tel], , "(?<n>\\\\d+)", "missing", "x", , )', {"tel": "555"}, "555"),
    ('Replace([a], , , , , , )', {"a": "same"}, "same"),
    # SelectUniqueValue (more in the context tests)
    ("SelectUniqueValue([a], [b])", {"b": "second"}, "second"),
    ("SelectUniqueValue([a], [b])", {}, None),
    # Split
    ('Split([a], ",")', {}, None),
    ('Split([a], "")', {"a": "x,y"}, ["x,y"]),
    ('Split([a], ",")', {"a": "a,,b"}, ["a", "", "b"]),
    ('Split([a], ";")', {"a": ["a;b", "c"]}, ["a", "b", "c"]),
    # StripSpaces
    ('StripSpaces("a b\tc")', {}, "ab\tc"),
    ("StripSpaces([a])", {}, None),
    # Switch
    ('Switch([a], "d", "", "empty")', {}, "empty"),
    ('Switch([a], , "x", "1")', {"a": "y"}, None),
    ('Switch([a], "d", "x", "1")', {"a": ["x", "y"]}, "1"),
    ('Switch([a], "d", "X", "1")', {"a": "x"}, "d"),
    ('Switch([a], "d", [k1], "one", [k2], "two")', {"a": "v", "k2": "v"}, "two"),
    ('Switch([a], "d", "1", "first", "1", "second")', {"a": "1"}, "first"),
    ('Switch([a], "d", 1, "number")', {"a": "1"}, "number"),
    # ToLower / ToUpper
    ('ToUpper("straße")', {}, "STRAßE"),
    ('ToLower("TITLE")', {}, "title"),
    ('ToLower("TITLE İ", "tr-TR")', {}, "tıtle i"),
    ('ToUpper("istanbul", "tr-TR")', {}, "İSTANBUL"),
    ('ToUpper("istanbul", "en-US")', {}, "ISTANBUL"),
    ("ToLower([a])", {}, None),
    ("ToUpper([a])", {"a": ["x", "y"]}, ["X", "Y"]),
    # Word
    ('Word([a], 1, " ")', {}, ""),
    ('Word("a b", 0, " ")', {}, ""),
    ('Word("a b", 3, " ")', {}, ""),
    ('Word("a  b", 2, " ")', {}, "b"),
    ('Word("ab", 1, "")', {}, "ab"),
]


@pytest.mark.parametrize("expression, attributes, expected", CASES)
def test_function_edge_cases(expression, attributes, expected):
    assert run(expression, attributes) == expected


ERRORS = [
    ('BitAnd("abc", 1)', {}, "BitAnd: value1 must be an integer"),
    ('CDate("not a date")', {}, "CDate"),
    ('CDate("2021-02-30")', {}, "CDate"),
    ('DateAdd("fortnight", 1, "2021-01-01")', {}, "unknown interval"),
    ('DateAdd("d", "x", "2021-01-01")', {}, "value must be a number"),
    ('DateAdd("yyyy", 9000, "2021-01-01")', {}, "out of range"),
    ('DateDiff("fortnight", "2021-01-01", "2021-01-02")', {}, "unknown interval"),
    ('DateFromNum("abc")', {}, "DateFromNum: value must be an integer"),
    ("DateFromNum(999999999999999999999)", {}, "outside the range"),
    ('FormatDateTime("2021", , "yyyyMMdd", "yyyy")', {}, "does not match"),
    ('FormatDateTime(" 20210101", "None", "yyyyMMdd", "yyyy")', {}, "does not match"),
    ('FormatDateTime("20210101", "Sideways", "yyyyMMdd", "yyyy")', {}, "unknown dateTimeStyles"),
    ('FormatDateTime("20210101", , "yyyyMMdd", "Q")', {}, "unknown standard date format"),
    ('FormatDateTime("20210101", , [missing], "yyyy")', {}, "inputFormat must not be null"),
    ('InStr("abc", "a", 0)', {}, "start must be 1 or more"),
    ('InStr("abc", "a", 1, "vbWhatever")', {}, "compareType"),
    ('Item([a], "first")', {"a": ["x"]}, "index must be an integer"),
    ('Left("abc", "x")', {}, "NumChars must be an integer"),
    ('Mid("abc", 0, 1)', {}, "start must be 1 or more"),
    ('Mid("abc", 1, -1)', {}, "length must not be negative"),
    ('Mid("abc", "one", 1)', {}, "start must be an integer"),
    ('NumFromDate("soon")', {}, "NumFromDate"),
    ("RandomString(300, 0, 0, 0, 0)", {}, "at most 256"),
    ("RandomString(3, 2, 2, 0, 0)", {}, "less than the sum"),
    ('RandomString(3, 1, 0, 0, 0, "0123456789")', {}, "excludes a whole required character class"),
    ("RandomString([n], 0, 0, 0, 0)", {}, "Length must be"),
    ('Replace([a], , "(unclosed", , "x", , )', {"a": "v"}, "invalid regular expression"),
    ('Word("a b", "two", " ")', {}, "WordNumber must be an integer"),
]


@pytest.mark.parametrize("expression, attributes, fragment", ERRORS)
def test_evaluation_errors(expression, attributes, fragment):
    with pytest.raises(EvaluationError) as info:
        run(expression, attributes)
    assert fragment in str(info.value)


def test_random_string_is_reproducible_with_a_seeded_rng():
    first = run("RandomString(12, 2, 2, 2, 2)", ctx=context(rng=random.Random(7)))
    second = run("RandomString(12, 2, 2, 2, 2)", ctx=context(rng=random.Random(7)))
    assert first == second and len(first) == 12


def test_random_string_of_length_zero():
    assert run("RandomString(0, 0, 0, 0, 0)") == ""


def test_guid_uses_the_context_rng():
    assert run("Guid()", ctx=context(rng=random.Random(3))) == run("Guid()", ctx=context(rng=random.Random(3)))
    node = parse('Join(",", Guid(), Guid())')
    first, second = evaluate(node, {}, context()).split(",")
    assert first != second


def test_select_unique_value_all_taken():
    ctx = context(value_exists=lambda value: True)
    with pytest.raises(NoUniqueValueError) as info:
        run('SelectUniqueValue("a", [missing], "b")', {}, ctx)
    assert info.value.candidates == ["a", "b"]


def test_select_unique_value_asks_only_until_a_free_value():
    asked = []

    def exists(value):
        asked.append(value)
        return value == "a"

    assert run('SelectUniqueValue("a", "b", "c")', {}, context(value_exists=exists)) == "b"
    assert asked == ["a", "b"]


def test_redact_inside_other_functions_marks_the_result():
    result = run('Join("@", Redact([a]), "x.com")', {"a": "secret"})
    assert isinstance(result, Redacted) and result.value == "secret@x.com"


def test_ignore_flow_anywhere_in_the_expression_drops_the_attribute():
    assert run('Join(",", IgnoreFlowIfNullOrEmpty([a]), "x")', {}) is IGNORE_FLOW
    assert run('Redact(IgnoreFlowIfNullOrEmpty([a]))', {}) is IGNORE_FLOW
    assert run('IgnoreFlowIfNullOrEmpty([a])', {"a": []}) is IGNORE_FLOW
    assert run('IgnoreFlowIfNullOrEmpty([a])', {"a": ["x"]}) == ["x"]


def test_lazy_functions_do_not_evaluate_untaken_arguments():
    node = parse('IIF([flag], "yes", RandomString(5, 0, 0, 0, 0))')
    _, trace = evaluate_traced(node, {"flag": "True"}, context())
    assert [text for text, _ in trace] == ["[flag]", '"yes"', 'IIF([flag], "yes", RandomString(5, 0, 0, 0, 0))']
