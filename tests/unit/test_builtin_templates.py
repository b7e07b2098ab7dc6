"""The built-in synchronization templates must be internally consistent: the schema
validator of the server enforces the same rules on every PUT, so a built-in that
breaks them could never be restored by "reset schema"."""
from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from graphsync import templates as builtin

TEMPLATE_IDS = ["scim", "API2AAD"]
ENT_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

ATTRIBUTE_TYPES = {"String", "Integer", "Reference", "Binary", "Boolean", "DateTime"}
MUTABILITIES = {"ReadWrite", "ReadOnly", "Immutable", "WriteOnly"}
FLOW_TYPES = {"Always", "ObjectAddOnly", "MultiValueAddOnly", "ValueAddOnly", "AttributeAddOnly"}
FLOW_BEHAVIORS = {"FlowWhenChanged", "FlowAlways"}
ATTRIBUTE_FIELDS = {"anchor", "apiExpressions", "caseExact", "defaultValue", "flowNullValues", "metadata",
                    "multivalued", "mutability", "name", "referencedObjects", "required", "type"}
MAPPING_FIELDS = {"defaultValue", "exportMissingReferences", "flowBehavior", "flowType", "matchingPriority",
                  "source", "targetAttributeName"}
TEMPLATE_FIELDS = {"id", "applicationId", "default", "description", "discoverable", "factoryTag", "metadata",
                   "schema"}
APP_TEMPLATE_FIELDS = {"id", "displayName", "homePageUrl", "supportedSingleSignOnModes",
                       "supportedProvisioningTypes", "logoUrl", "categories", "publisher", "description"}

# Parameter names, by position, of the functions the built-ins use (the `functions`
# endpoint's names; reference §1.4, §3.2.14, §5.2). A tuple entry repeats the group.
FUNCTION_PARAMETERS: dict[str, tuple[list[str], list[str]]] = {
    # name: (fixed positional names, repeating group appended after them)
    "Switch": (["source", "defaultValue"], ["key", "value"]),
    "Join": (["separator"], ["source"]),
    "Not": (["source"], []),
    "Replace": (["source", "Find", "regexPattern", "regexGroupName", "Replacement",
                 "replacementAttributeName", "template"], []),
    "Redact": (["value"], []),
    "RandomString": (["Length", "MinimumNumbers", "MinimumSpecialCharacters", "MinimumCapital",
                      "MinimumLowerCase", "CharactersToAvoid"], []),
}


# ---------------------------------------------------------------- helpers
def _all_templates():
    return builtin.builtin_templates()


def _directories(schema):
    return {d["name"]: d for d in schema["directories"]}


def _object(directory, name):
    return next((o for o in directory["objects"] if o["name"] == name), None)


def _object_mappings():
    for tid, tmpl in _all_templates().items():
        dirs = _directories(tmpl["schema"])
        for rule in tmpl["schema"]["synchronizationRules"]:
            for om in rule["objectMappings"]:
                yield (tid, rule, om, dirs[rule["sourceDirectoryName"]], dirs[rule["targetDirectoryName"]])


def _attribute_nodes(node):
    if node["type"] == "Attribute":
        yield node["name"]
    for p in node.get("parameters") or []:
        yield from _attribute_nodes(p["value"])


def split_arguments(text: str) -> tuple[str, list[str]]:
    """'Fn(a, , "x,y", G(b, c))' -> ('Fn', ['a', '', '"x,y"', 'G(b, c)']) (each stripped)."""
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)\((.*)\)", text, re.S)
    assert m, f"not a function call: {text!r}"
    name, body = m.group(1), m.group(2)
    args, depth, quoted, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(body):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(body[start:i])
            start = i + 1
    assert not quoted and depth == 0, f"unbalanced: {text!r}"
    if body.strip() or args:
        args.append(body[start:])
    return name, [a.strip() for a in args]


def _parameter_name(fn: str, position: int) -> str:
    fixed, repeating = FUNCTION_PARAMETERS[fn]
    if position < len(fixed):
        return fixed[position]
    assert repeating, f"{fn} takes {len(fixed)} arguments, got position {position + 1}"
    return repeating[(position - len(fixed)) % len(repeating)]


def assert_canonical(node, where="source"):
    """The node's `expression` is the canonical rendering of its tree (reference §5.1)."""
    assert set(node) == {"expression", "name", "parameters", "type"}, where
    kind = node["type"]
    if kind == "Attribute":
        assert node["parameters"] == [], where
        assert node["expression"] == f"[{node['name']}]", where
    elif kind == "Constant":
        assert node["parameters"] == [], where
        escaped = node["name"].replace("\\", "\\\\").replace('"', '\\"')
        assert node["expression"] == f'"{escaped}"', where
    elif kind == "Function":
        fn, args = split_arguments(node["expression"])
        assert fn == node["name"], where
        assert fn in FUNCTION_PARAMETERS, f"{where}: no parameter table for {fn}"
        # canonical text: arguments joined by ", ", empty slots kept
        assert node["expression"] == f"{fn}({', '.join(args)})", f"{where}: not canonical spacing"
        present = [(i, a) for i, a in enumerate(args) if a != ""]
        assert len(present) == len(node["parameters"]), f"{where}: parameters do not match the text"
        for (position, text), param in zip(present, node["parameters"]):
            child = param["value"]
            assert param["key"] == _parameter_name(fn, position), f"{where}: key of argument {position + 1}"
            bare_number = child["type"] == "Constant" and re.fullmatch(r"-?\d+", child["name"]) and text == child["name"]
            assert text == child["expression"] or bare_number, f"{where}: argument {position + 1} text"
            assert_canonical(child, f"{where}.{fn}[{position + 1}]")
    else:  # pragma: no cover
        pytest.fail(f"{where}: unknown node type {kind!r}")


# ---------------------------------------------------------------- files
@pytest.mark.parametrize("name", ["scim.json", "API2AAD.json", "application_templates.json"])
def test_data_files_are_valid_json(name):
    text = resources.files("graphsync.templates").joinpath(name).read_text(encoding="utf-8")
    json.loads(text)


def test_template_ids_and_entity_fields():
    templates = _all_templates()
    assert sorted(templates) == sorted(TEMPLATE_IDS)
    for tid, tmpl in templates.items():
        assert set(tmpl) == TEMPLATE_FIELDS, tid
        assert tmpl["id"] == tid
        assert tmpl["default"] is True and tmpl["discoverable"] is True
        assert isinstance(tmpl["description"], str) and tmpl["description"]
        assert tmpl["schema"]["id"] == f"{tid}.{'0' * 32}"
        assert all(set(e) == {"key", "value"} and isinstance(e["value"], str) for e in tmpl["metadata"])
    assert templates["scim"]["factoryTag"] == "CustomSCIM"
    assert templates["API2AAD"]["factoryTag"] == "API2AAD"
    fields = {e["key"]: e["value"] for e in templates["scim"]["metadata"]}
    assert json.loads(fields["ConfigurationFields"]) == [{"name": "baseaddress"},
                                                          {"name": "secrettoken", "secret": True}]


# ---------------------------------------------------------------- directories
def test_directory_and_object_definitions_are_well_formed():
    for tid, tmpl in _all_templates().items():
        names = [d["name"] for d in tmpl["schema"]["directories"]]
        assert len(names) == len(set(names)), tid
        ids = [d["id"] for d in tmpl["schema"]["directories"]]
        assert len(ids) == len(set(ids)), tid
        for d in tmpl["schema"]["directories"]:
            objects = [o["name"] for o in d["objects"]]
            assert len(objects) == len(set(objects)), (tid, d["name"])
            for o in d["objects"]:
                where = (tid, d["name"], o["name"])
                attrs = [a["name"] for a in o["attributes"]]
                assert len(attrs) == len(set(attrs)), where
                assert sum(a["anchor"] for a in o["attributes"]) == 1, f"{where}: exactly one anchor"
                for a in o["attributes"]:
                    assert set(a) == ATTRIBUTE_FIELDS, (where, a["name"])
                    assert a["type"] in ATTRIBUTE_TYPES and a["mutability"] in MUTABILITIES
                    if a["type"] != "Reference":
                        assert a["referencedObjects"] == [], (where, a["name"])
                    for ref in a["referencedObjects"]:
                        assert ref["referencedObjectName"] in objects, (where, a["name"], ref)


def test_scim_directories_and_catalogues():
    schema = builtin.builtin_template("scim")["schema"]
    assert [d["name"] for d in schema["directories"]] == ["Microsoft Entra ID", "customappsso"]
    entra, app = _directories(schema)["Microsoft Entra ID"], _directories(schema)["customappsso"]
    user = {a["name"]: a for a in _object(entra, "User")["attributes"]}
    meta = {m["key"]: m["value"] for m in _object(entra, "User")["metadata"]}
    assert meta["PropertyNameAccountEnabled"] == "accountEnabled"
    assert meta["PropertyNameSoftDeleted"] == "IsSoftDeleted"
    assert user["objectId"]["anchor"] and user["IsSoftDeleted"]["type"] == "Boolean"
    assert user["manager"]["type"] == "Reference"
    assert [r["referencedObjectName"] for r in user["manager"]["referencedObjects"]] == ["User"]
    assert user["proxyAddresses"]["multivalued"]
    for i in range(1, 16):
        assert f"extensionAttribute{i}" in user
    members = {a["name"]: a for a in _object(entra, "Group")["attributes"]}["members"]
    assert members["multivalued"] and members["type"] == "Reference"
    assert sorted(r["referencedObjectName"] for r in members["referencedObjects"]) == ["Group", "User"]

    target = {a["name"]: a for a in _object(app, ENT_USER)["attributes"]}
    for name in ["userName", "active", 'emails[type eq "work"].value', "name.givenName",
                 'roles[primary eq "True"].value', 'phoneNumbers[type eq "fax"].value',
                 f"{ENT_USER}:employeeNumber", f"{ENT_USER}:costCenter"]:
        assert name in target, name
    assert target["active"]["type"] == "Boolean"
    assert target[f"{ENT_USER}:manager"]["type"] == "Reference"
    assert target[f"{ENT_USER}:manager"]["referencedObjects"][0]["referencedObjectName"] == ENT_USER
    group = {a["name"]: a for a in _object(app, SCIM_GROUP)["attributes"]}
    assert group["members"]["multivalued"]
    assert sorted(r["referencedObjectName"] for r in group["members"]["referencedObjects"]) == sorted([ENT_USER, SCIM_GROUP])


def test_api2aad_source_directory_is_first():
    schema = builtin.builtin_template("API2AAD")["schema"]
    first = schema["directories"][0]
    assert first["name"] == "API"
    assert first["objects"][0]["name"] == ENT_USER  # Directories[0].Objects[0], as CSV2SCIM extends it
    manager = {a["name"]: a for a in first["objects"][0]["attributes"]}[f"{ENT_USER}:manager"]
    assert manager["type"] == "Reference"


# ---------------------------------------------------------------- rules and mappings
def test_rules_reference_directories_of_the_schema():
    for tid, tmpl in _all_templates().items():
        dirs = _directories(tmpl["schema"])
        rules = tmpl["schema"]["synchronizationRules"]
        assert len(rules) == 1, tid
        for rule in rules:
            assert rule["sourceDirectoryName"] in dirs and rule["targetDirectoryName"] in dirs
            assert rule["priority"] == 1 and rule["editable"] is True
            assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", rule["id"])


def test_object_mappings_reference_existing_objects_and_attributes():
    for tid, rule, om, source_dir, target_dir in _object_mappings():
        where = (tid, om["name"])
        source = _object(source_dir, om["sourceObjectName"])
        target = _object(target_dir, om["targetObjectName"])
        assert source is not None and target is not None, where
        assert om["enabled"] is True and om["scope"] is None
        assert om["flowTypes"] == "Add, Update, Delete"
        source_names = {a["name"] for a in source["attributes"]}
        target_names = {a["name"] for a in target["attributes"]}
        targets = [m["targetAttributeName"] for m in om["attributeMappings"]]
        assert len(targets) == len(set(targets)), f"{where}: a target attribute is mapped twice"
        for m in om["attributeMappings"]:
            assert set(m) == MAPPING_FIELDS, (where, m)
            assert m["targetAttributeName"] in target_names, (where, m["targetAttributeName"])
            assert m["flowType"] in FLOW_TYPES and m["flowBehavior"] in FLOW_BEHAVIORS
            assert m["exportMissingReferences"] is False
            assert isinstance(m["matchingPriority"], int) and m["matchingPriority"] >= 0
            assert m["source"] is not None or m["defaultValue"] is not None
            for name in _attribute_nodes(m["source"]):
                assert name in source_names, (where, m["targetAttributeName"], name)


def test_exactly_one_matching_attribute_per_mapping_and_joining_property():
    for tid, rule, om, _s, _t in _object_mappings():
        matching = [m for m in om["attributeMappings"] if m["matchingPriority"] > 0]
        assert len(matching) == 1, (tid, om["name"])
        assert matching[0]["matchingPriority"] == 1
        meta = {e["key"]: e["value"] for e in om["metadata"]}
        assert meta["OriginalJoiningProperty"] == matching[0]["targetAttributeName"]
        assert meta["Disposition"] == '"Normal"' and meta["EscrowBehavior"] == '"Default"'


def test_reference_mappings_connect_reference_attributes():
    for tid, rule, om, source_dir, target_dir in _object_mappings():
        source = {a["name"]: a for a in _object(source_dir, om["sourceObjectName"])["attributes"]}
        target = {a["name"]: a for a in _object(target_dir, om["targetObjectName"])["attributes"]}
        for m in om["attributeMappings"]:
            if target[m["targetAttributeName"]]["type"] == "Reference":
                assert m["source"]["type"] == "Attribute", (tid, m["targetAttributeName"])
                assert source[m["source"]["name"]]["type"] == "Reference"


def _source_expressions():
    for tid, rule, om, _s, _t in _object_mappings():
        for m in om["attributeMappings"]:
            if m["source"] is not None:
                yield pytest.param(m["source"], id=f"{tid}:{m['targetAttributeName']}")


@pytest.mark.parametrize("source", list(_source_expressions()))
def test_source_expression_is_canonical_rendering_of_its_tree(source):
    assert_canonical(source)


@pytest.mark.parametrize("source", list(_source_expressions()))
def test_source_round_trips_through_the_expression_parser(source):
    from graphsync import expressions
    assert expressions.to_source(expressions.parse(source["expression"])) == source
    assert expressions.to_source(expressions.from_source(source)) == source  # how the validator reads trees


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_templates_fit_the_graph_models(template_id):
    from graphsync import models
    tmpl = builtin.builtin_template(template_id)
    schema = models.SynchronizationSchema.model_validate(tmpl["schema"])
    assert schema.dump() == tmpl["schema"]  # no unknown, missing or retyped property
    models.TemplateBody.model_validate(tmpl)


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_templates_pass_the_server_schema_validator(template_id):
    from graphsync import models
    from graphsync.services import schema as schema_service
    schema = models.SynchronizationSchema.model_validate(builtin.builtin_template(template_id)["schema"])
    assert list(schema_service.find_problems(schema)) == []


# ---------------------------------------------------------------- the default rows themselves
def _rows(tid, mapping_name):
    tmpl = builtin.builtin_template(tid)
    for om in tmpl["schema"]["synchronizationRules"][0]["objectMappings"]:
        if om["name"] == mapping_name:
            return [(m["targetAttributeName"], m["source"]["expression"], m["matchingPriority"])
                    for m in om["attributeMappings"]]
    raise AssertionError(mapping_name)


def test_scim_default_user_rows_in_portal_order():
    w = 'addresses[type eq "work"]'
    assert _rows("scim", "Provision Microsoft Entra ID Users") == [
        ("userName", "[userPrincipalName]", 1),
        ("active", 'Switch([IsSoftDeleted], , "False", "True", "True", "False")', 0),
        ("displayName", "[displayName]", 0),
        ("title", "[jobTitle]", 0),
        ('emails[type eq "work"].value', "[mail]", 0),
        ("preferredLanguage", "[preferredLanguage]", 0),
        ("name.givenName", "[givenName]", 0),
        ("name.familyName", "[surname]", 0),
        ("name.formatted", 'Join(" ", [givenName], [surname])', 0),
        (f"{w}.formatted", "[physicalDeliveryOfficeName]", 0),
        (f"{w}.streetAddress", "[streetAddress]", 0),
        (f"{w}.locality", "[city]", 0),
        (f"{w}.region", "[state]", 0),
        (f"{w}.postalCode", "[postalCode]", 0),
        (f"{w}.country", "[country]", 0),
        ('phoneNumbers[type eq "work"].value', "[telephoneNumber]", 0),
        ('phoneNumbers[type eq "mobile"].value', "[mobile]", 0),
        ('phoneNumbers[type eq "fax"].value', "[facsimileTelephoneNumber]", 0),
        ("externalId", "[mailNickname]", 0),
        (f"{ENT_USER}:employeeNumber", "[employeeId]", 0),
        (f"{ENT_USER}:department", "[department]", 0),
        (f"{ENT_USER}:manager", "[manager]", 0),
    ]


def test_scim_default_group_rows():
    assert _rows("scim", "Provision Microsoft Entra ID Groups") == [
        ("displayName", "[displayName]", 1),
        ("externalId", "[objectId]", 0),
        ("members", "[members]", 0),
    ]


def test_scim_switch_tree_is_the_reference_tree():
    rows = builtin.builtin_template("scim")["schema"]["synchronizationRules"][0]["objectMappings"]
    users = next(om for om in rows if om["sourceObjectName"] == "User")
    active = next(m for m in users["attributeMappings"] if m["targetAttributeName"] == "active")
    assert [(p["key"], p["value"]["name"]) for p in active["source"]["parameters"]] == [
        ("source", "IsSoftDeleted"), ("key", "False"), ("value", "True"), ("key", "True"), ("value", "False")]


def test_api2aad_defaults():
    rows = {t: (e, p) for t, e, p in _rows("API2AAD", f"Provision API {ENT_USER}s")}
    assert rows["employeeId"] == ("[externalId]", 1)
    assert rows["accountEnabled"] == ("[active]", 0)
    assert rows["userPrincipalName"] == ("[userName]", 0)
    assert rows["manager"] == (f"[{ENT_USER}:manager]", 0)
    assert rows["department"] == (f"[{ENT_USER}:department]", 0)
    assert rows["givenName"] == ("[name.givenName]", 0)
    assert rows["surname"] == ("[name.familyName]", 0)
    assert rows["jobTitle"] == ("[title]", 0)
    assert rows["mailNickname"][0] == 'Replace([userName], , "(?<Suffix>@(.)*)", "Suffix", "", , )'
    tmpl = builtin.builtin_template("API2AAD")
    om = tmpl["schema"]["synchronizationRules"][0]["objectMappings"][0]
    by_target = {m["targetAttributeName"]: m for m in om["attributeMappings"]}
    assert by_target["passwordProfile.password"]["flowType"] == "ObjectAddOnly"
    assert by_target["preferredLanguage"]["defaultValue"] == "en-US"


def test_required_target_attributes_of_api2aad_are_mapped():
    """Creating an Entra user needs every required attribute: a mapping or a default value."""
    tmpl = builtin.builtin_template("API2AAD")
    rule = tmpl["schema"]["synchronizationRules"][0]
    target = _object(_directories(tmpl["schema"])[rule["targetDirectoryName"]], "User")
    mapped = {m["targetAttributeName"] for m in rule["objectMappings"][0]["attributeMappings"]}
    required = {a["name"] for a in target["attributes"] if a["required"]}
    assert required <= mapped, required - mapped


# ---------------------------------------------------------------- application templates
def test_application_templates_catalogue():
    catalogue = builtin.application_templates()
    ids = [t["id"] for t in catalogue]
    assert len(ids) == len(set(ids))
    for t in catalogue:
        assert set(t) == APP_TEMPLATE_FIELDS, t["id"]
        assert t["supportedProvisioningTypes"] == ["sync"]
    custom = builtin.application_template(builtin.CUSTOM_APP_TEMPLATE_ID)
    assert custom["id"] == "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
    assert custom["displayName"] == "Custom"
    assert builtin.application_template(builtin.CUSTOM_APP_TEMPLATE_ID.upper()) == custom
    assert builtin.templates_for_application_template(builtin.CUSTOM_APP_TEMPLATE_ID) == ["scim"]
    api = builtin.application_template(builtin.API_DRIVEN_APP_TEMPLATE_ID)
    assert api["displayName"] == "API-driven provisioning to Microsoft Entra ID"
    assert builtin.templates_for_application_template(builtin.API_DRIVEN_APP_TEMPLATE_ID) == ["API2AAD"]
    assert builtin.application_template("00000000-0000-0000-0000-000000000001") is None
    assert builtin.templates_for_application_template("nope") == []


def test_every_referenced_template_exists():
    known = set(_all_templates())
    for t in builtin.application_templates():
        assert set(builtin.templates_for_application_template(t["id"])) <= known
    assert builtin.default_templates_for_plain_application() == ["scim", "API2AAD"]


# ---------------------------------------------------------------- loader behaviour
def test_loader_returns_independent_copies():
    a = builtin.builtin_template("scim")
    a["schema"]["directories"].clear()
    a["metadata"].append({"key": "x", "value": "y"})
    assert builtin.builtin_template("scim")["schema"]["directories"]
    every = builtin.builtin_templates()
    every["scim"]["id"] = "changed"
    assert builtin.builtin_templates()["scim"]["id"] == "scim"
    cat = builtin.application_templates()
    cat[0]["displayName"] = "changed"
    assert builtin.application_templates()[0]["displayName"] != "changed"
    ids = builtin.templates_for_application_template(builtin.CUSTOM_APP_TEMPLATE_ID)
    ids.append("x")
    assert builtin.templates_for_application_template(builtin.CUSTOM_APP_TEMPLATE_ID) == ["scim"]


def test_lookups():
    assert builtin.builtin_template("nope") is None
    assert builtin.builtin_template("api2aad")["id"] == "API2AAD"
    assert builtin.builtin_template_for_factory_tag("customscim")["id"] == "scim"
    assert builtin.builtin_template_for_factory_tag("API2AAD")["id"] == "API2AAD"
    assert builtin.builtin_template_for_factory_tag("scim")["id"] == "scim"
    assert builtin.builtin_template_for_factory_tag("aws") is None


def test_templates_for_application_marks_one_default():
    plain = builtin.templates_for_application(None, application_id="app-1")
    assert [t["id"] for t in plain] == ["scim", "API2AAD"]
    assert [t["default"] for t in plain] == [True, False]
    assert all(t["applicationId"] == "app-1" for t in plain)
    api = builtin.templates_for_application(builtin.API_DRIVEN_APP_TEMPLATE_ID)
    assert [(t["id"], t["default"]) for t in api] == [("API2AAD", True)]
    assert api[0]["applicationId"] == builtin.PLACEHOLDER_APPLICATION_ID


def test_split_arguments_helper():
    assert split_arguments('Replace([a], , "x,(y", "S", "", , )') == (
        "Replace", ["[a]", "", '"x,(y"', '"S"', '""', "", ""])
    assert split_arguments('Join(" ", Mid([a], 1, 2), "\\"")') == ("Join", ['" "', "Mid([a], 1, 2)", '"\\""'])
    assert split_arguments("DefaultDomain()") == ("DefaultDomain", [])
