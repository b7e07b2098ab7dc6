"""SCIM request shapes the engine sends: POST bodies and PATCH operations in both dialects."""
from __future__ import annotations

from graphsync.engine.resource import build_resource, member_operations, parse_path, patch_operations, read_value

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_paths_are_parsed():
    assert parse_path('emails[type eq "work"].value').selector == ("type", "work")
    assert parse_path("name.givenName").sub == "givenName"
    path = parse_path(f"{ENT}:department")
    assert path.urn == ENT and path.attribute == "department"
    assert parse_path('roles[primary eq "True"].value').selector == ("primary", "True")


def test_post_body_nests_paths_and_adds_schemas():
    body = build_resource({"userName": "a@x", "active": True, "name.givenName": "A", "name.familyName": "B",
                           'emails[type eq "work"].value': "a@x", 'phoneNumbers[type eq "mobile"].value': "1",
                           'addresses[type eq "work"].locality': "Oslo", f"{ENT}:department": "R",
                           "title": None}, group=False)
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:User", ENT]
    assert body["name"] == {"givenName": "A", "familyName": "B"}
    assert body["emails"] == [{"type": "work", "primary": True, "value": "a@x"}]
    assert body["phoneNumbers"] == [{"type": "mobile", "value": "1"}]
    assert body["addresses"] == [{"type": "work", "locality": "Oslo"}]
    assert body[ENT] == {"department": "R"} and "title" not in body
    assert body["meta"] == {"resourceType": "User"}
    group = build_resource({"displayName": "G"}, group=True)
    assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]


def test_read_value_mirrors_build():
    body = build_resource({'emails[type eq "work"].value': "a@x", "name.givenName": "A", f"{ENT}:manager": "m1"},
                          group=False)
    assert read_value(body, 'emails[type eq "work"].value') == "a@x"
    assert read_value(body, "name.givenName") == "A"
    assert read_value({ENT: {"manager": {"value": "m1"}}}, f"{ENT}:manager") == "m1"
    assert read_value(body, 'phoneNumbers[type eq "fax"].value') is None


def test_rfc_patch_add_vs_replace_and_new_elements():
    exported = {"displayName": "Old", 'addresses[type eq "work"].locality': "Oslo"}
    ops = patch_operations(exported, {"displayName": "New", "title": "Boss", 'addresses[type eq "work"].region': "OS",
                                      'phoneNumbers[type eq "mobile"].value': "555", "active": False,
                                      "nickName": None})
    assert {"op": "replace", "path": "displayName", "value": "New"} in ops
    assert {"op": "add", "path": "title", "value": "Boss"} in ops
    # the work address exists: its new sub-attribute goes by filter path
    assert {"op": "add", "path": 'addresses[type eq "work"].region', "value": "OS"} in ops
    # no mobile phone yet: the element is added whole
    assert {"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "555"}]} in ops
    assert {"op": "add", "path": "active", "value": False} in ops
    assert all(op.get("path") != "nickName" for op in ops)  # nulls are not flowed


def test_entra_dialect_capitalises_and_stringifies():
    ops = patch_operations({"active": True}, {"active": False, f"{ENT}:manager": "m1"}, dialect="entra")
    assert {"op": "Replace", "path": "active", "value": "False"} in ops
    assert {"op": "Add", "path": f"{ENT}:manager", "value": "m1"} in ops
    rfc = patch_operations({}, {f"{ENT}:manager": "m1"})
    assert rfc == [{"op": "add", "path": f"{ENT}:manager", "value": {"value": "m1"}}]


def test_member_operations_in_both_dialects():
    assert member_operations(["u1", "u2"], ["u3"]) == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u3"]'}]
    assert member_operations([], ["u3"], dialect="entra") == [
        {"op": "Remove", "path": "members", "value": [{"value": "u3"}]}]
    assert member_operations([], []) == []
