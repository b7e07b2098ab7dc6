"""API-driven inbound provisioning, the pure part: what a SCIM BulkRequest must look like, how a
worker record's attributes are read by the SCIM paths of the API2AAD schema, and what a record
does to a directory user. Records are the samples of the Graph bulkUpload documentation."""
from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest

from graphsync import expressions
from graphsync.engine import inbound, logs
from graphsync.errors import BadRequest, TooManyRequests
from graphsync.templates import builtin_template

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
CONTEXT = expressions.EvaluationContext(default_domain="contoso.test")

# Example 1 of "Perform bulkUpload" (Graph docs), Barbara Jensen.
BABS = {
    "schemas": [CORE, ENTERPRISE], "externalId": "701984", "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
             "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
    "displayName": "Babs Jensen", "nickName": "Babs",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
    "addresses": [{"type": "work", "streetAddress": "234300 Universal City Plaza", "locality": "Hollywood",
                   "region": "CA", "postalCode": "91608", "country": "USA",
                   "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": True}],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
    "userType": "Employee", "title": "Tour Guide", "preferredLanguage": "en-US", "locale": "en-US",
    "timezone": "America/Los_Angeles", "active": True,
    ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                 "division": "Theme Park", "department": "Tour Operations",
                 "manager": {"value": "89607", "displayName": "John Smith"}},
}


def bulk(*records: dict, **extra) -> bytes:
    return json.dumps({"schemas": [BULK], "Operations": [
        {"method": "POST", "bulkId": str(r.get("externalId", i)), "path": "/Users", "data": r}
        for i, r in enumerate(records)], "failOnErrors": None, **extra}).encode()


def api2aad_schema() -> dict:
    return builtin_template("API2AAD")["schema"]


def read(name: str, record: dict = BABS):
    return inbound.compile_source(name)(record)


# -- reading source attributes -------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("externalId", "701984"),
    ("userName", "bjensen@example.com"),
    ("name.givenName", "Barbara"),
    ("name.familyName", "Jensen"),
    ('emails[type eq "work"].value', "bjensen@example.com"),
    ('addresses[type eq "work"].locality', "Hollywood"),
    ('addresses[type eq "work"].postalCode', "91608"),
    ('phoneNumbers[type eq "work"].value', "555-555-5555"),
    ('phoneNumbers[type eq "mobile"].value', None),
    ("active", True),
    (f"{ENTERPRISE}:department", "Tour Operations"),
    (f"{ENTERPRISE}:manager", "89607"),  # a reference reads as its value: the manager's externalId
    (f"{ENTERPRISE}:manager.displayName", "John Smith"),
    ("name.middleName", "Jane"),
    ("profileUrl", None),
])
def test_source_attributes_are_read_by_their_scim_paths(name, value):
    assert read(name) == value


def test_custom_extension_attributes_are_read_from_their_namespace_object():
    record = dict(BABS, schemas=[CORE, ENTERPRISE, "urn:contoso:employee"],
                  **{"urn:contoso:employee": {"HireDate": "2021-05-01T00:00:00-05:00", "JobCode": "AB-1002"}})
    assert read("urn:contoso:employee:HireDate", record) == "2021-05-01T00:00:00-05:00"
    assert read("urn:contoso:employee:JobCode", record) == "AB-1002"
    assert read("urn:contoso:employee:Missing", record) is None
    # CSV2SCIM's style of namespace
    csv2scim = {"urn:ietf:params:scim:schemas:extension:contoso:1.0:User": {"HireDate": "2022-07-15"}}
    assert read("urn:ietf:params:scim:schemas:extension:contoso:1.0:User:HireDate", csv2scim) == "2022-07-15"


def test_attribute_names_and_filter_values_ignore_case_and_numbers_read_as_strings():
    record = {"ExternalId": 701984, "Emails": [{"Type": "Work", "Value": "b@example.com"}],
              ENTERPRISE.lower(): {"costCenter": 4130.0}}
    assert read("externalId", record) == "701984"
    assert read('emails[type eq "work"].value', record) == "b@example.com"
    assert read(f"{ENTERPRISE}:costCenter", record) == "4130"


def test_the_primary_value_wins_among_several_of_one_type():
    record = {"emails": [{"type": "work", "value": "first@example.com"},
                         {"type": "work", "value": "primary@example.com", "primary": True},
                         {"type": "home", "value": "home@example.com"}]}
    assert read('emails[type eq "work"].value', record) == "primary@example.com"
    assert read('emails[type eq "work" and primary eq true].value', record) == "primary@example.com"
    assert read('emails[type eq "other" or type eq "home"].value', record) == "home@example.com"
    assert read("emails.value", record) == ["first@example.com", "primary@example.com", "home@example.com"]


# -- the BulkRequest ---------------------------------------------------------------------------

def test_the_documented_sample_is_a_valid_bulk_request():
    kathy = dict(copy.deepcopy(BABS), externalId="701985", userName="Kjensen@example.com")
    operations = inbound.parse_bulk_request(bulk(BABS, kathy), 50)
    assert [(o.bulk_id, o.external_id) for o in operations] == [("701984", "701984"), ("701985", "701985")]
    assert operations[0].data == BABS


def test_a_repeated_bulk_id_is_accepted_as_microsofts_samples_repeat_them():
    kathy = dict(copy.deepcopy(BABS), externalId="701985", userName="Kjensen@example.com")
    body = json.loads(bulk(BABS, kathy))
    for op in body["Operations"]:
        op["bulkId"] = "a6861ef2-c94b-4c96-85e0-27c59c0537eb"
    operations = inbound.parse_bulk_request(json.dumps(body).encode(), 50)
    assert [o.external_id for o in operations] == ["701984", "701985"]


def operation(**changes) -> dict:
    op = {"method": "POST", "bulkId": "1", "path": "/Users", "data": {"schemas": [CORE], "externalId": "1"}}
    op.update(changes)
    return op


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a SCIM BulkRequest"),
    (json.dumps({"Operations": [operation()]}).encode(), "'schemas' must be"),
    (json.dumps({"schemas": [BULK], "Operations": {}}).encode(), "'Operations' must be an array"),
    (json.dumps({"schemas": [BULK], "Operations": []}).encode(), "no operations"),
    (json.dumps({"schemas": [BULK], "Operations": [operation()], "extra": 1}).encode(), "'extra' does not exist"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(method="PATCH")]}).encode(),
     'Operations[0].method is "PATCH": /bulkUpload only accepts POST'),
    (json.dumps({"schemas": [BULK], "Operations": [operation(method="DELETE")]}).encode(), "only accepts POST"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(path="/Groups")]}).encode(),
     'Operations[0].path is "/Groups": /bulkUpload only accepts the path /Users'),
    (json.dumps({"schemas": [BULK], "Operations": [operation(path="/Users/42")]}).encode(), "only accepts the path"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(bulkId=None)]}).encode(), "bulkId is required"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(data="x")]}).encode(), "data must be a SCIM user"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(data={"externalId": "1"})]}).encode(),
     f'data.schemas must list "{CORE}"'),
    (json.dumps({"schemas": [BULK], "Operations": [operation(data={"schemas": [CORE]})]}).encode(),
     "data.externalId is required"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(data={"schemas": [CORE], "externalId": "x" * 257})]})
     .encode(), "data.externalId is required"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(op="add")]}).encode(), "'op' does not exist"),
    (json.dumps({"schemas": [BULK], "Operations": [operation()], "failOnErrors": -1}).encode(), "failOnErrors"),
    (json.dumps({"schemas": [BULK], "Operations": [operation(data={"schemas": [CORE], "externalId": "a\u0000"})]})
     .encode(), "NUL character"),
])
def test_what_is_not_a_valid_bulk_request_is_refused_saying_why(body, message):
    with pytest.raises(BadRequest) as caught:
        inbound.parse_bulk_request(body, 50)
    assert message in caught.value.message


def test_at_most_50_operations_unless_the_limit_is_lifted():
    records = [dict(BABS, externalId=str(i)) for i in range(51)]
    with pytest.raises(BadRequest) as caught:
        inbound.parse_bulk_request(bulk(*records), 50)
    assert "at most 50 operations; this one has 51" in caught.value.message
    assert inbound.SETTING_MAX_OPERATIONS in caught.value.message
    assert len(inbound.parse_bulk_request(bulk(*records), 0)) == 51


def test_the_rate_limit_is_a_sliding_second_per_job():
    now = [100.0]
    limiter = inbound.RateLimiter(clock=lambda: now[0])
    for _ in range(40):
        limiter.check("job", 40)
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("job", 40)
    assert caught.value.status == 429 and caught.value.headers == {"Retry-After": "1"}
    limiter.check("another job", 40)  # per job
    now[0] += 0.5
    with pytest.raises(TooManyRequests):
        limiter.check("job", 40)
    now[0] += 0.51  # the first 40 calls are more than a second old
    limiter.check("job", 40)
    for _ in range(1000):
        limiter.check("unlimited", 0)


def test_job_settings_are_read_as_integers_with_a_fallback():
    doc = {"synchronizationJobSettings": [{"name": inbound.SETTING_MAX_OPERATIONS, "value": "0"},
                                          {"name": inbound.SETTING_REQUESTS_PER_SECOND, "value": "x"}]}
    assert inbound.setting(doc, inbound.SETTING_MAX_OPERATIONS, 50) == 0
    assert inbound.setting(doc, inbound.SETTING_REQUESTS_PER_SECOND, 40) == 40
    assert inbound.setting({}, inbound.SETTING_MAX_OPERATIONS, 50) == 50


# -- what a record does ------------------------------------------------------------------------

def decide(record: dict, current: dict | None = None, linked: bool = False, schema: dict | None = None, **kw):
    plan = inbound.compile_plan(schema or api2aad_schema())
    return inbound.decide(plan, inbound.source_attributes(plan, record), current, linked, CONTEXT, **kw)


def test_a_new_worker_becomes_a_user_with_the_default_mappings():
    decision = decide(BABS)
    assert decision.kind == "create" and decision.action == "create"
    assert decision.writes == {
        "employeeId": "701984", "accountEnabled": True, "userPrincipalName": "bjensen@example.com",
        "mailNickname": "bjensen", "displayName": "Babs Jensen", "givenName": "Barbara", "surname": "Jensen",
        "jobTitle": "Tour Guide", "department": "Tour Operations", "preferredLanguage": "en-US",
        "streetAddress": "234300 Universal City Plaza", "city": "Hollywood", "state": "CA", "postalCode": "91608",
        "country": "USA", "businessPhones": ["555-555-5555"]}
    assert decision.manager == "89607"
    # the generated password has no place in graphsync's directory: it is not even generated
    assert decision.not_stored == ["passwordProfile.password"]


def test_default_values_apply_on_create_only():
    record = {k: v for k, v in BABS.items() if k != "preferredLanguage"}
    assert decide(record).writes["preferredLanguage"] == "en-US"
    current = {"id": "u1", "employeeId": "701984", "preferredLanguage": "nb-NO", "accountEnabled": True}
    assert "preferredLanguage" not in decide(record, current, linked=True).writes


def test_the_documented_update_sample_disables_and_moves_the_worker():
    record = {"schemas": [CORE, ENTERPRISE], "externalId": "7172023", "active": False,
              ENTERPRISE: {"department": "Tour Ops"}}
    current = {"id": "u1", "employeeId": "7172023", "department": "Tour Operations", "accountEnabled": True}
    decision = decide(record, current)
    assert decision.kind == "update"
    assert decision.writes == {"employeeId": "7172023", "accountEnabled": False, "department": "Tour Ops"}
    rows = inbound.modified_properties(decision, current, ["accountEnabled", "department"])
    assert rows == [("accountEnabled", True, "False"), ("department", "Tour Operations", "Tour Ops")]


def with_scope(schema: dict, department: str) -> dict:
    schema = copy.deepcopy(schema)
    mapping = schema["synchronizationRules"][0]["objectMappings"][0]
    mapping["scope"] = {"groups": [{"clauses": [{
        "operatorName": "EQUALS", "sourceOperandName": f"{ENTERPRISE}:department",
        "targetOperand": {"values": [department]}}]}]}
    return schema


def test_out_of_scope_records_are_skipped_and_linked_users_disabled():
    schema = with_scope(api2aad_schema(), "Sales")
    skipped = decide(BABS, schema=schema)
    assert skipped.kind == "skip" and skipped.error_code == "NotInScope"
    current = {"id": "u1", "employeeId": "701984", "accountEnabled": True}
    assert decide(BABS, current, linked=False, schema=schema).kind == "skip"  # not provisioned by this job
    disabled = decide(BABS, current, linked=True, schema=schema)
    assert disabled.kind == "disable" and disabled.writes == {"accountEnabled": False}
    assert decide(BABS, current, linked=True, schema=schema, skip_out_of_scope_deletions=True).kind == "skip"
    sales = dict(BABS, **{ENTERPRISE: dict(BABS[ENTERPRISE], department="Sales")})
    assert decide(sales, schema=schema).kind == "create"


def test_target_object_actions_gate_create_and_update():
    schema = api2aad_schema()
    schema["synchronizationRules"][0]["objectMappings"][0]["flowTypes"] = "Update"
    assert decide(BABS, schema=schema).error_code == "AddNotEnabled"
    assert decide(BABS, {"id": "u1", "accountEnabled": True}, schema=schema).kind == "update"
    schema["synchronizationRules"][0]["objectMappings"][0]["flowTypes"] = "Add"
    assert decide(BABS, {"id": "u1", "accountEnabled": True}, schema=schema).error_code == "UpdateNotEnabled"


def add_mapping(schema: dict, target: str, expression: str, **extra) -> dict:
    schema = copy.deepcopy(schema)
    mapping = schema["synchronizationRules"][0]["objectMappings"][0]
    mapping["attributeMappings"] = [m for m in mapping["attributeMappings"] if m["targetAttributeName"] != target]
    mapping["attributeMappings"].append({
        "targetAttributeName": target, "source": expressions.to_source(expressions.parse(expression)),
        "flowType": "Always", "matchingPriority": 0, "defaultValue": None, **extra})
    return schema


def test_expression_mappings_of_custom_attributes_flow():
    schema = add_mapping(api2aad_schema(), "jobTitle", 'Join("", [title], " (", [urn:contoso:employee:JobCode], ")")')
    schema = add_mapping(schema, "employeeHireDate", "[urn:contoso:employee:HireDate]")
    schema = add_mapping(schema, "employeeOrgData.costCenter", f"[{ENTERPRISE}:costCenter]")
    record = dict(BABS, **{"urn:contoso:employee": {"HireDate": "2021-05-01T00:00:00-05:00", "JobCode": "AB-1002"}})
    writes = decide(record, schema=schema).writes
    assert writes["jobTitle"] == "Tour Guide (AB-1002)"
    assert writes["employeeHireDate"] == "2021-05-01T00:00:00-05:00"
    assert writes["employeeOrgData"] == {"costCenter": "4130"}
    # a costCenter update keeps the division the user already has
    current = {"id": "u1", "accountEnabled": True, "employeeOrgData": {"division": "Parks", "costCenter": "1"}}
    assert decide(record, current, schema=schema).writes["employeeOrgData"] == {"division": "Parks",
                                                                                "costCenter": "4130"}


def test_add_only_mappings_are_left_alone_on_update():
    schema = add_mapping(api2aad_schema(), "displayName", "[displayName]", flowType="ObjectAddOnly")
    assert decide(BABS, schema=schema).writes["displayName"] == "Babs Jensen"
    assert "displayName" not in decide(BABS, {"id": "u1", "accountEnabled": True}, schema=schema).writes


def test_a_mapping_that_cannot_be_evaluated_fails_the_record():
    schema = add_mapping(api2aad_schema(), "jobTitle", 'FormatDateTime([title], , "yyyyMMdd", "yyyy")')
    decision = decide(BABS, schema=schema)
    assert decision.kind == "fail" and decision.error_code == "AttributeMappingEvaluationFailed"
    assert "cannot be evaluated" in decision.reason


def test_the_matching_attribute_is_externalid_against_employeeid():
    plan = inbound.compile_plan(api2aad_schema())
    assert [(rule.target, prop) for rule, prop in plan.matching] == [("employeeId", "employeeId")]
    attributes = inbound.source_attributes(plan, BABS)
    assert inbound.match_value(plan.matching[0][0], attributes, CONTEXT) == "701984"


def test_a_schema_without_an_enabled_user_mapping_processes_nothing():
    schema = api2aad_schema()
    schema["synchronizationRules"][0]["objectMappings"][0]["enabled"] = False
    decision = decide(BABS, schema=schema)
    assert decision.kind == "skip" and "no enabled object mapping" in decision.reason


def test_a_plan_reads_every_attribute_as_its_own_reader_does():
    """Attributes under one filtered item (addresses[type eq "work"].…) are read in one go; the
    values are those of the per-attribute readers (the null ones left out), whichever item the
    filter picks, and whatever the case of the names the record uses."""
    schema = add_mapping(api2aad_schema(), "officeLocation", '[addresses[type eq "work"].formatted]')
    schema = add_mapping(schema, "mobilePhone", '[phoneNumbers[type eq "mobile"].value]')
    plan = inbound.compile_plan(schema)
    record = copy.deepcopy(BABS)
    record["addresses"] = [{"type": "home", "locality": "Burbank", "postalCode": 1234},
                           {"type": "Work", "locality": "Hollywood", "postalCode": 91608, "primary": True},
                           {"type": "work", "locality": "Studio City"}]
    shouting = {key.upper(): {k.upper(): v for k, v in value.items()} if isinstance(value, dict) else value
                for key, value in BABS.items()}
    for data in (BABS, record, shouting, {"externalId": "1", "addresses": None, "phoneNumbers": {"type": "mobile"}},
                 {"externalId": 7, "name": [{"givenName": "A"}, {"givenName": "B"}], "active": False,
                  ENTERPRISE: {"manager": {"value": 12}}}):
        attributes = inbound.source_attributes(plan, data)
        assert attributes == {name: value for name, read in plan.readers.items() if (value := read(data)) is not None}
        assert list(attributes) == [name for name in plan.readers if name in attributes]
    assert len(inbound.source_attributes(plan, shouting)) == len(inbound.source_attributes(plan, BABS)) > 10
    assert inbound.source_attributes(plan, record)['addresses[type eq "work"].postalCode'] == "91608"


def test_a_stored_log_entry_reads_back_as_the_graph_provisioning_object_summary():
    log = inbound.LogContext("tenant", "job", "cycle", "sp", 'HR "prod"', "API", "Microsoft Entra ID",
                             ENTERPRISE, "User", application_id="app-1")
    steps = [inbound.step("EntryImportAdd", "import", "success", "Received ü", {"active": True, "n": ["a", "b"]})]
    entry_id, text = inbound.entry_json(log, now="2024-05-01T10:00:00Z", external_id="701984", action="create",
                                        status="success", steps=steps, target_id="u1", target_name="ann@contoso.test",
                                        source_name="Ann", modified=[("accountEnabled", None, True)])
    row = SimpleNamespace(tenant_id="tenant", job_id="job", cycle_id="cycle")  # the provisioning_logs row
    entry = logs.expand(json.loads(text), row)
    assert entry == {
        "id": entry_id, "activityDateTime": "2024-05-01T10:00:00Z", "tenantId": "tenant", "jobId": "job",
        "cycleId": "cycle", "changeId": entry["changeId"], "provisioningAction": "create",
        "durationInMilliseconds": 0, "initiatedBy": logs.INITIATOR,
        "servicePrincipal": {"id": "sp", "displayName": 'HR "prod"'},
        "sourceSystem": {"id": None, "displayName": "API", "details": {}},
        "targetSystem": {"id": None, "displayName": "Microsoft Entra ID",
                         "details": {"ApplicationId": "app-1", "ServicePrincipalId": "sp",
                                     "ServicePrincipalDisplayName": 'HR "prod"'}},
        "sourceIdentity": {"id": "701984", "displayName": "Ann", "identityType": ENTERPRISE, "details": {}},
        "targetIdentity": {"id": "u1", "displayName": "ann@contoso.test", "identityType": "User",
                           "details": {"UserPrincipalName": "ann@contoso.test"}},
        "provisioningStatusInfo": {"status": "success", "errorInformation": None},
        "provisioningSteps": [{"name": "EntryImportAdd", "provisioningStepType": "import", "status": "success",
                               "description": "Received ü", "details": {"active": "True", "n": "a, b"}}],
        "modifiedProperties": [{"displayName": "accountEnabled", "oldValue": None, "newValue": "True"}],
    }
    assert len(text) < len(json.dumps(entry, separators=(",", ":")))  # stored smaller than it reads

    _, text = inbound.entry_json(log, now="2024-05-01T10:00:00Z", external_id="701984", action="create",
                                 status="failure", steps=steps, target_id=None, target_name=None, source_name=None,
                                 modified=[], error_code="AzureActiveDirectoryConflictEncountered", reason="taken")
    failed = logs.expand(json.loads(text), row)
    assert failed["provisioningStatusInfo"] == {"status": "failure", "errorInformation": {
        "errorCode": "AzureActiveDirectoryConflictEncountered", "reason": "taken", "additionalDetails": None,
        "errorCategory": "nonServiceFailure", "recommendedAction": None}}
    assert failed["targetIdentity"] == {"id": "", "displayName": "", "identityType": "User", "details": {}}
    assert failed["sourceIdentity"]["displayName"] == ""


def test_steps_stored_as_facts_read_back_worded_as_entra_words_them():
    """The usual steps of a record are stored as facts and worded when read; a stored entry leaves
    its tenant, job and cycle to the row and reads back with a changeId that stays the same."""
    log = inbound.LogContext("tenant", "job", "cycle", "sp", "HR", "API", "Microsoft Entra ID", ENTERPRISE, "User")
    decision = inbound.Decision("create", "create", in_scope=True)
    attributes = {"externalId": "701984", "active": False, "emails": ["a@x", "b@x"], "title": None}
    steps = [inbound.import_step(attributes, existing=True), inbound.scoping_step(decision, attributes),
             inbound.matching_step("u1", "matched on employeeId to"), inbound.matching_step(None, ""),
             inbound.export_step("other", "ann@contoso.test", ["passwordProfile.password"])]
    _, text = inbound.entry_json(log, now="2024-05-01T10:00:00Z", external_id="701984", action="update",
                                 status="success", steps=steps, target_id="u1", target_name="ann@contoso.test",
                                 source_name="Ann", modified=[])
    assert "tenant" not in json.loads(text).values() and "Received" not in text
    row = SimpleNamespace(tenant_id="tenant", job_id="job", cycle_id="cycle")
    entry = logs.expand(json.loads(text), row)
    assert (entry["tenantId"], entry["jobId"], entry["cycleId"]) == ("tenant", "job", "cycle")
    assert entry["changeId"] == logs.expand(json.loads(text), row)["changeId"] != entry["id"]
    assert entry["provisioningSteps"] == [
        {"name": "EntryImportUpdate", "provisioningStepType": "import", "status": "success",
         "description": f"Received {ENTERPRISE} '701984' change of type (Update) from API",
         "details": {"externalId": "701984", "active": "False", "emails": "a@x, b@x"}},
        {"name": "EntrySynchronizationScoping", "provisioningStepType": "scoping", "status": "success",
         "description": f"Determine if {ENTERPRISE} in scope by evaluating against each scoping filter",
         "details": {"Active in the source system": "False", "Scoping filter evaluation passed": "True"}},
        {"name": "EntrySynchronizationUpdate", "provisioningStepType": "matching", "status": "success",
         "description": f"{ENTERPRISE} '701984' is matched on employeeId to User 'u1' in Microsoft Entra ID",
         "details": {"TargetId": "u1"}},
        {"name": "EntrySynchronizationAdd", "provisioningStepType": "matching", "status": "success",
         "description": f"{ENTERPRISE} '701984' will be created in Microsoft Entra ID (no matching User was found "
                        "in Microsoft Entra ID)", "details": {}},
        {"name": "EntryExportSkip", "provisioningStepType": "export", "status": "skipped",
         "description": "User 'ann@contoso.test' is already up to date in Microsoft Entra ID: nothing was exported",
         "details": {"ReportableIdentifier": "701984",
                     "passwordProfile.password": "[not stored by graphsync's directory]"}}]
