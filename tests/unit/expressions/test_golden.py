"""Every input → output example of the function reference (Microsoft Learn "Reference for
writing expressions for attribute mappings", summarised in reference §5.2), plus the
composite examples."""
from __future__ import annotations

import re

import pytest

from graphsync.expressions import IGNORE_FLOW, EvaluationContext, Redacted, evaluate, parse, unwrap

from .helpers import context, run


# ---------------------------------------------------------------- Append … CStr
def test_append():
    assert run('Append([userPrincipalName], ".test")', {"userPrincipalName": "John.Doe@contoso.com"}) \
        == "John.Doe@contoso.com.test"


def test_bitand_hex_literals():
    assert run("BitAnd(&HF, &HF7)") == 7


@pytest.mark.parametrize("first, second, expected", [("a", "a", "True"), ("a", "b", "False")])
def test_cbool_of_comparison(first, second, expected):
    assert run("CBool([attribute1] = [attribute2])", {"attribute1": first, "attribute2": second}) == expected


@pytest.mark.parametrize("expression, attributes, expected", [
    ("CDate([StatusHireDate])", {"StatusHireDate": "2020-03-16-07:00"}, "3/16/2020 7:00:00 AM"),
    ('CDate("2021-06-30+08:00")', {}, "6/29/2021 4:00:00 PM"),
    ('CDate("2009-06-15T01:45:30-07:00")', {}, "6/15/2009 8:45:30 AM"),
])
def test_cdate(expression, attributes, expected):
    assert run(expression, attributes) == expected


def test_coalesce_skips_null():
    assert run("Coalesce([mail],[userPrincipalName])", {"userPrincipalName": "John.Doe@contoso.com"}) \
        == "John.Doe@contoso.com"


def test_convert_to_base64_is_utf16le():
    assert run('ConvertToBase64("Hello world!")') == "SABlAGwAbABvACAAdwBvAHIAbABkACEA"


def test_convert_to_utf8_hex():
    assert run('ConvertToUTF8Hex("Hello world!")') == "48656C6C6F20776F726C6421"


def test_count():
    assert run("Count([proxyAddresses])", {"proxyAddresses": ["smtp:a@x", "smtp:b@x", "SMTP:c@x"]}) == 3


def test_cstr():
    assert run("CStr([dn])", {"dn": "cn=Joe,dc=contoso,dc=com"}) == "cn=Joe,dc=contoso,dc=com"


# ---------------------------------------------------------------- DateAdd / DateDiff tables
@pytest.mark.parametrize("interval, value, expected", [
    ("d", "7", "3/23/2012 7:00:00 AM"),
    ("d", "-10", "3/6/2012 7:00:00 AM"),
    ("ww", "2", "3/30/2012 7:00:00 AM"),
    ("m", "10", "1/16/2013 7:00:00 AM"),
    ("yyyy", "2", "3/16/2014 7:00:00 AM"),
])
def test_dateadd_table(interval, value, expected):
    expression = f'DateAdd("{interval}", {value}, CDate([StatusHireDate]))'
    assert run(expression, {"StatusHireDate": "2012-03-16-07:00"}) == expected


@pytest.mark.parametrize("interval, date1, date2, expected", [
    ("d", "2021-08-18+08:00", "2021-08-31+08:00", 13),
    ("d", "8/25/2021 5:41:18 PM", "2012-03-16-07:00", -3449),
    ("ww", "8/25/2021 5:41:18 PM", "2012-03-16-07:00", -493),
    ("m", "8/25/2021 5:41:18 PM", "2012-03-16-07:00", -113),
    ("yyyy", "8/25/2021 5:41:18 PM", "2012-03-16-07:00", -9),
    ("d", "2021-08-31+08:00", "2021-08-31+08:00", 0),
    ("h", "2021-08-24", "2021-08-25", 24),
    ("n", "2021-08-24", "2021-08-25", 1440),
    ("s", "2021-08-24", "2021-08-25", 86400),
])
def test_datediff_table(interval, date1, date2, expected):
    attributes = {"date1": date1, "date2": date2}
    assert run(f'DateDiff("{interval}", CDate([date1]), CDate([date2]))', attributes) == expected
    assert run(f'DateDiff("{interval}", [date1], [date2])', attributes) == expected


def test_datediff_with_now():
    # Now() is 7/2/2021 3:33:38 PM in the test context
    assert run('DateDiff("d", Now(), CDate([StatusHireDate]))', {"StatusHireDate": "2021-07-12"}) == 9


def test_datefromnum():
    assert run("DateFromNum(129699324000000000)") == "1/1/2012 11:00:00 PM"
    assert run("DateFromNum([lastLogonTimestamp])", {"lastLogonTimestamp": "129699324000000000"}) \
        == "1/1/2012 11:00:00 PM"


def test_default_domain():
    assert run('Join("", "jsmith", "@", DefaultDomain())') == "jsmith@contoso.com"


def test_format_date_time():
    expression = 'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")'
    assert run(expression, {"extensionAttribute1": "20150123105347.1Z"}) == "2015-01-23"


def test_guid_shape():
    value = run("Guid()")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)


# ---------------------------------------------------------------- IgnoreFlow, IIF, InStr, Is*
def test_ignore_flow_if_null_or_empty():
    assert run("IgnoreFlowIfNullOrEmpty([department])", {}) is IGNORE_FLOW
    assert run("IgnoreFlowIfNullOrEmpty([department])", {"department": ""}) is IGNORE_FLOW
    assert run("IgnoreFlowIfNullOrEmpty([department])", {"department": "Sales"}) == "Sales"


@pytest.mark.parametrize("prefix, expected", [("3443", "Dr."), ("3445", "Prof. Dr."), ("9999", IGNORE_FLOW),
                                              (None, IGNORE_FLOW)])
def test_ignore_flow_around_switch(prefix, expected):
    expression = 'IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof.", "3445", "Prof. Dr."))'
    assert run(expression, {"prefix": prefix}) == expected


@pytest.mark.parametrize("country, expected", [("USA", "USA"), ("Canada", "Sales")])
def test_iif(country, expected):
    assert run('IIF([country]="USA",[country],[department])', {"country": country, "department": "Sales"}) == expected


@pytest.mark.parametrize("country, state, and_result, or_result", [
    ("USA", "CA", "True", "True"), ("USA", "WA", "False", "True"), ("UK", "CA", "False", "True"),
    ("UK", "WA", "False", "False"),
])
def test_iif_and_or_by_nesting(country, state, and_result, or_result):
    attributes = {"country": country, "state": state}
    assert run('IIF([country]="USA",IIF([state]="CA","True","False"),"False")', attributes) == and_result
    assert run('IIF([country]="USA","True",IIF([state]="CA","True","False"))', attributes) == or_result


def test_iif_condition_on_empty_attribute_fails():
    # documented limitation: the condition check fails when the attribute is null or empty
    assert run('IIF([country]="","Other",[country])', {"country": ""}) == ""
    assert run('Switch([country],[country],"","Other")', {"country": ""}) == "Other"
    assert run('Switch([country],[country],"","Other")', {"country": "Peru"}) == "Peru"


def test_instr():
    assert run('InStr("The quick brown fox","quick")') == 5
    assert run('InStr("repEated","e",3,vbBinaryCompare)') == 7


@pytest.mark.parametrize("attributes, is_null, is_null_or_empty, is_present", [
    ({}, "True", "True", "False"),
    ({"displayName": ""}, "False", "True", "False"),
    ({"displayName": "Ann"}, "False", "False", "True"),
])
def test_null_tests(attributes, is_null, is_null_or_empty, is_present):
    assert run("IsNull([displayName])", attributes) == is_null
    assert run("IsNullOrEmpty([displayName])", attributes) == is_null_or_empty
    assert run("IsPresent([displayName])", attributes) == is_present


@pytest.mark.parametrize("attributes, expected", [
    ({"directManager": "m1", "skiplevelManager": "m2", "director": "m3"}, "m2"),
    ({"directManager": "m1", "director": "m3"}, "m3"),
    ({"directManager": "m1"}, "m1"),
    ({"skiplevelManager": "m2", "director": "m3"}, None),
    ({"director": "m3"}, None),
])
def test_ispresent_switch_example_follows_switch_semantics(attributes, expected):
    """The docs' IsPresent example, read with Switch(source, defaultValue, key, value, …):
    source = IsPresent([directManager]), default = [directManager], and each key is an
    IsPresent(...) compared with the source's "True"/"False"."""
    expression = ("Switch(IsPresent([directManager]),[directManager], IsPresent([skiplevelManager]),"
                  "[skiplevelManager], IsPresent([director]),[director])")
    assert run(expression, attributes) == expected


def test_item_is_one_based():
    assert run("Item([proxyAddresses], 1)", {"proxyAddresses": ["a", "b"]}) == "a"


# ---------------------------------------------------------------- Join … Word
def test_join_skips_empty_values():
    assert run('Join(", ", "", [surname], [givenName])', {"surname": "Doe", "givenName": "John"}) == "Doe, John"


def test_left():
    assert run('Left("John Doe", 3)') == "Joh"


def test_mid_composite():
    assert run("Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))", {"givenName": "John", "surname": "Doe"}) \
        == "JohDoe"


@pytest.mark.parametrize("source, expected", [
    ("Zoë", "Zoe"), ("äàâãåáąăā", "aaaaaaaaa"), ("ÄÀÂÃÅÁĄĂĀ", "AAAAAAAAA"), ("æǣ", "aeae"), ("ÆǢ", "AEAE"),
    ("çčć", "ccc"), ("ď", "d"), ("ëèéêęěėē", "eeeeeeee"), ("ğ", "g"), ("ïîìíıī", "iiiiii"), ("İ", "I"),
    ("ľł", "ll"), ("Ł", "L"), ("ñńň", "nnn"), ("öòőõôóō", "ooooooo"), ("ø", "oe"), ("Ø", "OE"), ("œ̄", "oe"),
    ("ř", "r"), ("ß", "ss"), ("šśșş", "ssss"), ("ťț", "tt"), ("üùûúůűū", "uuuuuuu"), ("ÿýȳ", "yyy"),
    ("źžż", "zzz"), ("ā́ǟḗṓȫ", "aaeoo"), ("Ḹ", "L"), ("ẕ", "z"), ("Ṝ", "R"),
])
def test_normalize_diacritics_table(source, expected):
    assert run("NormalizeDiacritics([givenName])", {"givenName": source}) == expected


@pytest.mark.parametrize("value, expected", [("True", "False"), ("False", "True"), (True, "False"), (False, "True")])
def test_not(value, expected):
    assert run("Not([IsSoftDeleted])", {"IsSoftDeleted": value}) == expected


def test_now():
    assert run("Now()") == "7/2/2021 3:33:38 PM"


def test_num_from_date_workday():
    expression = 'NumFromDate(Join("", FormatDateTime([ContractEndDate], ,"yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))'
    # 2020-12-31 23:59:59 -08:00 = 2021-01-01 07:59:59 UTC
    assert run(expression, {"ContractEndDate": "2020-12-31-08:00"}) == 132539615990000000


def test_num_from_date_successfactors():
    expression = 'NumFromDate(Join("",FormatDateTime([endDate], ,"M/d/yyyy hh:mm:ss tt","yyyy-MM-dd")," 23:59:59-08:00"))'
    assert run(expression, {"endDate": "12/31/2020 08:00:00 AM"}) == 132539615990000000


@pytest.mark.parametrize("expression, attributes, expected", [
    ("PCase([firstName])", {"firstName": "PABLO GONSALVES (SECOND)"}, "Pablo Gonsalves (Second)"),
    ("PCase([lastName],\" '-\")", {"lastName": "PINTO-DE'SILVA"}, "Pinto-De'Silva"),
    ('PCase(Join(" ",[firstName],[lastName]))', {"firstName": "GREGORY", "lastName": "JAMES"}, "Gregory James"),
])
def test_pcase(expression, attributes, expected):
    assert run(expression, attributes) == expected


def test_random_string_without_special_characters():
    value = run("RandomString(6,3,0,0,3)")
    assert len(value) == 6
    assert sum(c.isdigit() for c in value) >= 3 and sum(c.islower() for c in value) >= 3


def test_random_string_with_characters_to_avoid():
    for seed in range(30):
        value = run('RandomString(10,2,2,2,1,"?,")', ctx=context(rng=__import__("random").Random(seed)))
        assert len(value) == 10 and "?" not in value and "," not in value
        assert sum(c.isdigit() for c in value) >= 2
        assert sum(not c.isalnum() for c in value) >= 2
        assert sum(c.isupper() for c in value) >= 2 and sum(c.islower() for c in value) >= 1


@pytest.mark.parametrize("expression, attributes, flows", [
    ("Redact([userPrincipalName])", {"userPrincipalName": "ann@contoso.com"}, "ann@contoso.com"),
    ('Redact("StringToBeRedacted")', {}, "StringToBeRedacted"),
])
def test_redact(expression, attributes, flows):
    result = run(expression, attributes)
    assert isinstance(result, Redacted) and unwrap(result) == flows and str(result) == "[Redact]"


def test_redact_random_string():
    result = run("Redact(RandomString(6,3,0,0,3))")
    assert isinstance(result, Redacted) and len(result.value) == 6


def test_remove_duplicates():
    assert run("RemoveDuplicates([proxyAddresses])", {"proxyAddresses": ["a", "b", "a", "c", "b"]}) == ["a", "b", "c"]


@pytest.mark.parametrize("expression, attributes, expected", [
    ('Replace([BusinessTitle],"Product Developer", , , "Software Engineer", , )',
     {"BusinessTitle": "Product Developer"}, "Software Engineer"),
    ('Replace([UserID],"<username>", , , , , "<username>@contoso.com")', {"UserID": "jsmith"}, "jsmith@contoso.com"),
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", , "${phoneNumber}", , )',
     {"telephoneNumber": "+91 9998887777"}, "9998887777"),
    # the docs print 19998887777, but "+" is not in the character class, so .NET keeps it
    ('Replace([mobile], , "[()\\\\s-]+", , "", , )', {"mobile": "+1 (999) 888-7777"}, "+19998887777"),
    ('Replace([AddressLineData], ,"(?<streetNumber>^\\\\d*)","streetNumber", "888", , )',
     {"AddressLineData": "545 Tremont Street"}, "888 Tremont Street"),
    ('Replace([userPrincipalName], , "(?<Suffix>@(.)*)", "Suffix", "", , )',
     {"userPrincipalName": "jsmith@contoso.com"}, "jsmith"),
    ('Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d* )(?<phoneNumber>\\\\d{10})", "phoneNumber" , , [mobile], )',
     {"telephoneNumber": "", "mobile": "+91 8887779999"}, "8887779999"),
    ('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', {"mailNickname": "john_doe72"}, "72"),
    ('Replace([mail], "@contoso.com", , ,"", ,)', {"mail": "john.doe@contoso.com"}, "john.doe"),
    ('Replace([preferredLanguage], "-", , , "_", , )', {"preferredLanguage": "EN-US"}, "EN_US"),
])
def test_replace(expression, attributes, expected):
    assert run(expression, attributes) == expected


SELECT_UNIQUE = """SelectUniqueValue(
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 1), [PreferredLastName]))), "contoso.com"),
        Join("@", NormalizeDiacritics(StripSpaces(Join(".",  Mid([PreferredFirstName], 1, 2), [PreferredLastName]))), "contoso.com")
    )"""


@pytest.mark.parametrize("taken, expected", [
    (set(), "John.Smith@contoso.com"),
    ({"John.Smith@contoso.com"}, "J.Smith@contoso.com"),
    ({"John.Smith@contoso.com", "J.Smith@contoso.com"}, "Jo.Smith@contoso.com"),
])
def test_select_unique_value(taken, expected):
    ctx = context(value_exists=taken.__contains__)
    assert run(SELECT_UNIQUE, {"PreferredFirstName": "John", "PreferredLastName": "Smith"}, ctx) == expected


def test_app_role_functions():
    roles = {"appRoleAssignments": ["Admin", "User"]}
    assert run("SingleAppRoleAssignment([appRoleAssignments])", {"appRoleAssignments": ["Admin"]}) == "Admin"
    assert run("AppRoleAssignmentsComplex([appRoleAssignments])", roles) == [
        {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": "Admin", "value": "Admin"},
        {"primary": False, "type": "WindowsAzureActiveDirectoryRole", "display": "User", "value": "User"},
    ]


def test_split():
    assert run('Split([extensionAttribute5], ",")', {"extensionAttribute5": "PermissionSetOne, PermissionSetTwo"}) \
        == ["PermissionSetOne", "PermissionSetTwo"]


def test_strip_spaces():
    assert run('StripSpaces("John Smith")') == "JohnSmith"


@pytest.mark.parametrize("state, expected", [("QLD", "Australia/Brisbane"), ("NSW", "Australia/Sydney"),
                                             ("SA", "Australia/Adelaide"), ("VIC", "Australia/Sydney")])
def test_switch_state(state, expected):
    expression = ('Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney","QLD", "Australia/Brisbane", '
                  '"SA", "Australia/Adelaide")')
    assert run(expression, {"state": state}) == expected


@pytest.mark.parametrize("flag, expected", [("True", "1"), ("true", "1"), ("TRUE", "1"), ("False", "0"), ("x", "0")])
def test_switch_case_insensitive_via_tolower(flag, expected):
    assert run('Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")', {"statusFlag": flag}) == expected


@pytest.mark.parametrize("flag, expected", [("", "0"), (None, "0"), ("true", "1"), ("maybe", "Default Value")])
def test_switch_empty_key(flag, expected):
    assert run('Switch([statusFlag], "Default Value", "true", "1", "", "0")', {"statusFlag": flag}) == expected


def test_switch_to_iif_rewrite():
    switch = 'Switch([companyName], "External", "Company A", "A", "Company B", "B")'
    iif = 'IIF([companyName] = "Company A", "A", IIF([companyName] = "Company B", "B", "External"))'
    for company in ("Company A", "Company B", "Other"):
        assert run(switch, {"companyName": company}) == run(iif, {"companyName": company})


def test_tolower_upn():
    expression = 'ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".",  [PreferredFirstName], [PreferredLastName]))), "contoso.com"))'
    assert run(expression, {"PreferredFirstName": "John", "PreferredLastName": "Smith"}) == "john.smith@contoso.com"


def test_word():
    assert run('Word("The quick brown fox",3," ")') == "brown"
    assert run('Word("This,string!has&many separators",3,",!&#")') == "has"


# ---------------------------------------------------------------- composite examples
def test_generate_id_from_object_id():
    object_id = "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    value = run('Join("", 1000, Replace(ConvertToUTF8Hex([objectId]), , "[a-zA-Z_]*", , "", , ))',
                {"objectId": object_id})
    # (the docs' sample output was computed from a different, redacted object id)
    assert value == "1000" + "".join(c for c in object_id.encode().hex().upper() if c.isdigit())


@pytest.mark.parametrize("active, hire_date, expected", [
    ("1", "2021-07-10", "False"),  # more than 5 days ahead of Now() (2021-07-02)
    ("1", "2021-07-05", "True"),
    ("0", "2021-07-10", "False"),
    ("2", "2021-07-10", None),
])
def test_workday_active_switch(active, hire_date, expected):
    expression = ('Switch([Active], , \n  "1", IIF(DateDiff("d", Now(), CDate([StatusHireDate])) > 5, "False", "True"), '
                  '\n  "0", "False")')
    assert run(expression, {"Active": active, "StatusHireDate": hire_date}) == expected


def test_upn_generation_with_random_suffix():
    expression = ('Join("", Replace([userName], , "(?<Suffix>@(.)*)", "Suffix", "", , ), '
                  'RandomString(3, 3, 0, 0, 0, ), "@", DefaultDomain())')
    value = run(expression, {"userName": "jsmith@fabrikam.com"})
    assert re.fullmatch(r"jsmith\d{3}@contoso\.com", value)


def test_parse_expression_docs_example():
    """`parseExpression` docs example: the tree and the evaluation result."""
    node = parse('Replace([preferredLanguage], "-", , , "_", , )')
    assert evaluate(node, {"preferredLanguage": "EN-US"}, EvaluationContext()) == "EN_US"
