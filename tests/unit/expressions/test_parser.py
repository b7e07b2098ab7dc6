"""Parser: the whole grammar, canonical rendering, and errors with positions."""
from __future__ import annotations

import pytest

from graphsync.expressions import (
    Attribute,
    BareWord,
    Comparison,
    Constant,
    ExpressionError,
    Function,
    parse,
    render,
)


# ---------------------------------------------------------------- accepted forms
@pytest.mark.parametrize("name", [
    "mail", "passwordProfile.password", "extension_abc_costCenter", "extension_9d98ed114c4840d298fad781915f27e4_employeeType",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", 'addresses[type eq "work"].country',
    "appRoleAssignments", "IsSoftDeleted", "name with spaces",
])
def test_attribute_names(name):
    assert parse(f"[{name}]") == Attribute(name)
    assert render(parse(f"[{name}]")) == f"[{name}]"


@pytest.mark.parametrize("literal, value", [
    (r'""', ""), (r'"United States"', "United States"), (r'"Company name: \"Contoso\""', 'Company name: "Contoso"'),
    (r'"back\\slash"', "back\\slash"), (r'"\\+(?<isdCode>\\d* )"', r"\+(?<isdCode>\d* )"),
    (r'"keep \d as is"', r"keep \d as is"), ('"multi\nline"', "multi\nline"), ('"ünïcödé ✓"', "ünïcödé ✓"),
])
def test_string_literals_and_escapes(literal, value):
    node = parse(literal)
    assert node == Constant(value)
    assert parse(render(node)) == node


@pytest.mark.parametrize("text, value", [("1", "1"), ("-10", "-10"), ("007", "007"), ("&HF", "15"), ("&hff", "255"),
                                          ("&HF7", "247"), ("1.5", "1.5")])
def test_numbers(text, value):
    node = parse(text)
    assert node == Constant(value, literal=text)
    assert render(node) == text


def test_function_call_tree():
    assert parse('Mid([userPrincipalName], 1, 8)') == Function(
        "Mid", (Attribute("userPrincipalName"), Constant("1", "1"), Constant("8", "8")))


def test_nested_calls_and_zero_argument_functions():
    node = parse('Join("", "jsmith", "@", DefaultDomain())')
    assert node == Function("Join", (Constant(""), Constant("jsmith"), Constant("@"), Function("DefaultDomain", ())))
    assert parse("Now( )") == Function("Now", ())


@pytest.mark.parametrize("text, args", [
    ('Switch([a], , "1", "x")', (Attribute("a"), None, Constant("1"), Constant("x"))),
    ('Replace([x], "a", , , "b", , )',
     (Attribute("x"), Constant("a"), None, None, Constant("b"), None, None)),
    ('Coalesce([a], [b], )', (Attribute("a"), Attribute("b"), None)),
])
def test_empty_arguments_are_significant(text, args):
    node = parse(text)
    assert node.args == args


@pytest.mark.parametrize("text, canonical", [
    ('Replace([preferredLanguage],"-",,,"_",,)', 'Replace([preferredLanguage], "-", , , "_", , )'),
    ('Replace([preferredLanguage], "-", , , "_", , )', 'Replace([preferredLanguage], "-", , , "_", , )'),
    ('  Append( [a] ,\n\t".test" )  ', 'Append([a], ".test")'),
    ('IIF([country]="USA",[country],[department])', 'IIF([country] = "USA", [country], [department])'),
    ('CBool([a]<>[b])', "CBool([a] <> [b])"),
    ('InStr("repEated","e",3,vbBinaryCompare)', 'InStr("repEated", "e", 3, vbBinaryCompare)'),
    ('Switch([Active], , \n  "1", "x",\n  "0", "False")', 'Switch([Active], , "1", "x", "0", "False")'),
])
def test_canonical_rendering(text, canonical):
    node = parse(text)
    assert render(node) == canonical
    assert parse(canonical) == node


@pytest.mark.parametrize("operator", ["=", "<>", ">", ">=", "<", "<="])
def test_comparisons_in_iif_and_cbool(operator):
    node = parse(f'IIF(DateDiff("d", Now(), [x]) {operator} 5, "a", "b")')
    condition = node.args[0]
    assert isinstance(condition, Comparison) and condition.operator == operator
    assert condition.right == Constant("5", "5")
    assert parse(f"CBool([a]{operator}[b])").args[0] == Comparison(operator, Attribute("a"), Attribute("b"))


def test_bare_words():
    node = parse('InStr([a], "x", 1, vbTextCompare)')
    assert node.args[3] == BareWord("vbTextCompare")


def test_whitespace_and_newlines_everywhere():
    text = """SelectUniqueValue(
        Join("@", [a], "contoso.com"),
        Join("@", Mid([a], 1, 1), "contoso.com")
    )"""
    node = parse(text)
    assert node.name == "SelectUniqueValue" and len(node.args) == 2


def test_format_date_time_three_argument_form():
    node = parse('FormatDateTime([d], "yyyyMMdd", "yyyy-MM-dd")')
    assert len(node.args) == 3


def test_maximum_length_is_accepted():
    text = '"' + "x" * 9_998 + '"'
    assert len(text) == 10_000
    assert parse(text) == Constant("x" * 9_998)


# ---------------------------------------------------------------- errors
def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("text, position, fragment", [
    ("", 0, "empty"),
    ("   ", 3, "empty"),
    ("Foo([a])", 0, "unknown function 'Foo'"),
    ("mid([a], 1, 2)", 0, "did you mean Mid"),
    ("Mid([a], 1)", 0, "Mid takes 3 arguments, got 2"),
    ("Append([a], \"b\", \"c\")", 0, "Append takes 2 arguments, got 3"),
    ("Join(\",\")", 0, "Join takes at least 2 arguments, got 1"),
    ('Switch([a], "d", "k")', 0, "key/value pairs"),
    ("SelectUniqueValue([a])", 0, "at least 2"),
    ('Append([a], "b"', 15, "expected ',' or ')' after argument 2 of Append"),
    ('Append([a] "b")', 11, "expected ',' or ')'"),
    ('Append("abc, [b])', 7, "unterminated string"),
    ("Append([abc, [b])", 7, "unterminated attribute"),
    ("[]", 0, "attribute name"),
    ("[a] [b]", 4, "expected the end of the expression"),
    ("Append([a], )", 0, "argument 2 (suffix) is required"),
    ("Mid(, 1, 2)", 0, "argument 1 (source) is required"),
    ("Append([a], -)", 13, "digits after '-'"),
    ("Append([a], &Q1)", 12, "hexadecimal"),
    ("Append([a], 12ab)", 14, "after a number"),
    ('[a] = "x"', 4, "only allowed in the condition of IIF"),
    ('Append([a] = "x", "y")', 11, "only allowed in the condition of IIF"),
    ('IIF("a", [a] = "x", "y")', 13, "only allowed in the condition of IIF"),
    ("Now", 3, "expected '(' after the function name Now"),
    ("foo", 0, "unknown name 'foo'"),
    ("vbTextCompare", 0, "only be used as an argument"),
    ('Join(".", SelectUniqueValue([a], [b]))', 10, "must be the outermost function"),
    ("Append(@, [a])", 7, "expected an expression"),
    ("Append([a], [b]))", 16, "expected the end of the expression"),
])
def test_errors_carry_position_and_expectation(text, position, fragment):
    exc = error(text)
    assert exc.position == position, exc
    assert fragment in exc.message, exc.message
    assert f"position {position}" in str(exc)


def test_too_long_expression():
    exc = error('"' + "x" * 10_000 + '"')
    assert exc.position == 10_000 and "longer than 10000" in exc.message


def test_nesting_limit_is_an_expression_error_not_a_recursion_error():
    text = "Not(" * 500 + "[a]" + ")" * 500
    exc = error(text)
    assert "nested more than 100" in exc.message


def test_nesting_within_the_limit_parses():
    text = "Not(" * 90 + "[a]" + ")" * 90
    assert render(parse(text)) == text


def test_non_string_input():
    exc = error(None)  # type: ignore[arg-type]
    assert exc.position == 0


def test_function_names_are_case_sensitive():
    exc = error("IIf([a] = \"b\", 1, 2)")
    assert "case-sensitive" in exc.message and "IIF" in exc.message
