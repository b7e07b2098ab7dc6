"""Provisioning log entries (Graph ``provisioningObjectSummary``) for what a cycle did."""
from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphsync.models import format_datetime

if TYPE_CHECKING:
    from graphsync.engine.cycle import CycleSettings, Outcome
    from graphsync.engine.mapping import ObjectRule

INITIATOR = {"id": "", "displayName": "graphsync provisioning service", "initiatorType": "system"}
_STEP_NAMES = {"create": "EntryExportAdd", "update": "EntryExportUpdate", "disable": "EntryExportUpdate",
               "delete": "EntryExportDelete", "other": "EntrySynchronizationSkip",
               "stagedDelete": "EntrySynchronizationStagedDelete"}


def log_text(value: Any) -> str | None:
    """A value as provisioning logs show it (modifiedProperties are strings)."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


COMPACT = "@graphsync.compact"  # marks a stored record that is expanded when read; its value says what made it
OUTBOUND, INBOUND = 1, 2  # a cycle's record (``record``); an inbound record's (engine/inbound.py entry_json)
# The usual steps of an inbound record are stored as facts, [code, …] (engine/inbound.py), and
# worded by ``_inbound_step`` when read; the others whole, [name, type, status, description, details].
STEP_IMPORT, STEP_SCOPING, STEP_NEW, STEP_MATCHED, STEP_EXPORT = range(5)
NOT_STORED_REASON = "not stored by graphsync's directory"
# changeId of a record stored without one: derived from the record's id, so it reads the same every time
_CHANGE_IDS = uuid.UUID("5f0c8c2e-5b3a-4f57-9a4c-6b1e2d7a9c31")


def change_id(stored: dict[str, Any]) -> str:
    return stored.get("changeId") or str(uuid.uuid5(_CHANGE_IDS, stored["id"]))


def record(settings: CycleSettings, cycle_id: str, rule: ObjectRule, source_id: str, doc: dict | None,
           outcome: Outcome, now: datetime) -> dict[str, Any]:
    """What a cycle stores for one object and action: only the facts. The Graph
    ``provisioningObjectSummary`` (steps, descriptions, systems) is derived from them by
    ``expand`` when the logs are read, so a cycle writes ~1/5 of the bytes."""
    return {
        COMPACT: OUTBOUND,
        "id": str(uuid.uuid4()),
        "at": format_datetime(now),
        "tenantId": settings.tenant_id,
        "jobId": settings.job_id,
        "cycleId": cycle_id,
        "sp": [settings.service_principal_id, settings.service_principal_name, settings.application_id],
        "systems": [settings.source_name, settings.target_name],
        "kind": "Group" if rule.group else "User",
        "targetObject": rule.target_object,
        "sourceId": source_id,
        "name": (doc or {}).get("displayName") or (doc or {}).get("userPrincipalName") or source_id,
        "action": outcome.action,
        "status": outcome.status,
        "reason": outcome.reason,
        "errorCode": outcome.error_code,
        "targetId": outcome.target_id,
        "modified": [[k, log_text(old), log_text(new)] for k, (old, new) in outcome.modified.items()],
    }


def expand(stored: dict[str, Any], row: Any = None) -> dict[str, Any]:
    """A stored log document as Graph returns it (documents stored in full pass unchanged).
    ``row``: the provisioning_logs row (its tenant_id, job_id and cycle_id), for the inbound
    records that leave those to the row's columns."""
    kind = stored.get(COMPACT)
    if not kind:
        return stored
    if kind == INBOUND:
        if "jobId" not in stored:
            stored = {**stored, "tenantId": row.tenant_id, "jobId": row.job_id, "cycleId": row.cycle_id}
        return _expand_inbound(stored)
    kind, name, action, status = stored["kind"], stored["name"], stored["action"], stored["status"]
    reason, target_id = stored["reason"], stored["targetId"]
    source_name, target_name = stored["systems"]
    failed = status == "failure"
    steps = [
        {"name": "EntryImport", "provisioningStepType": "import", "status": "success",
         "description": f"Retrieved {kind} '{name}' from {source_name}", "details": {}},
        {"name": "EntrySynchronizationScoping", "provisioningStepType": "scoping",
         "status": "skipped" if status == "skipped" and action == "other" else "success",
         "description": reason if status == "skipped" else f"{kind} '{name}' is in scope",
         "details": {}},
        {"name": "EntrySynchronizationAdd" if action == "create" else "EntryImport",
         "provisioningStepType": "matching", "status": "success",
         "description": (f"No matching {kind} was found in {target_name}: it will be created"
                         if action == "create" else
                         f"Matched {kind} '{name}' in {target_name}" if target_id else
                         f"{kind} '{name}' is not in {target_name}"),
         "details": {"TargetId": target_id} if target_id else {}},
        {"name": _STEP_NAMES.get(action, "EntrySynchronizationSkip"), "provisioningStepType": "export",
         "status": status,
         "description": (f"Failed to {action} {kind} '{name}' in {target_name}: {reason}"
                         if failed else f"{action.capitalize()} of {kind} '{name}' in "
                                        f"{target_name}: {status}"),
         "details": {"ReportableIdentifier": name}},
    ]
    return _summary(stored, action=action, status=status, systems=(source_name, target_name),
                    source=(stored["sourceId"], name, kind), target=(target_id or "", name, stored["targetObject"], {}),
                    error=(stored["errorCode"], reason) if failed else None, steps=steps)


def _summary(stored: dict[str, Any], *, action: str, status: str, systems: tuple[str, str],
             source: tuple[str, str, str], target: tuple[str, str, str, dict], error: tuple | None,
             steps: list[dict]) -> dict[str, Any]:
    """The Graph provisioningObjectSummary around what a stored record says."""
    sp_id, sp_name, app_id = (*stored["sp"], "")[:3]  # entries stored before the appId have two
    return {
        "id": stored["id"],
        "activityDateTime": stored["at"],
        "tenantId": stored["tenantId"],
        "jobId": stored["jobId"],
        "cycleId": stored["cycleId"],
        "changeId": change_id(stored),
        "provisioningAction": action,
        "durationInMilliseconds": 0,
        "initiatedBy": INITIATOR,
        "servicePrincipal": {"id": sp_id, "displayName": sp_name},
        "sourceSystem": {"id": None, "displayName": systems[0], "details": {}},
        "targetSystem": {"id": None, "displayName": systems[1],
                         "details": {"ApplicationId": app_id, "ServicePrincipalId": sp_id,
                                     "ServicePrincipalDisplayName": sp_name}},
        "sourceIdentity": {"id": source[0], "displayName": source[1], "identityType": source[2], "details": {}},
        "targetIdentity": {"id": target[0], "displayName": target[1], "identityType": target[2],
                           "details": target[3]},
        "provisioningStatusInfo": {"status": status, "errorInformation": None if error is None else {
            "errorCode": error[0], "reason": error[1], "additionalDetails": None,
            "errorCategory": "nonServiceFailure", "recommendedAction": None}},
        "provisioningSteps": steps,
        "modifiedProperties": [{"displayName": name, "oldValue": old, "newValue": new}
                               for name, old, new in stored["modified"]],
    }


def _expand_inbound(stored: dict[str, Any]) -> dict[str, Any]:
    source_object, target_object = stored["objects"]
    source_id, source_name = stored["source"]
    target_id, target_name = stored["target"]
    return _summary(stored, action=stored["action"], status=stored["status"], systems=tuple(stored["systems"]),
                    source=(source_id, source_name, source_object),
                    target=(target_id, target_name, target_object,
                            {"UserPrincipalName": target_name} if target_name else {}),
                    error=stored["error"], steps=[_inbound_step(step, stored) for step in stored["steps"]])


def _inbound_step(step: list, stored: dict[str, Any]) -> dict[str, Any]:
    code = step[0]
    if code.__class__ is str:
        name, kind, status, description, details = step
        return {"name": name, "provisioningStepType": kind, "status": status, "description": description,
                "details": details}
    source_object, target_object = stored["objects"]
    source_directory, target_directory = stored["systems"]
    external_id = stored["source"][0]
    if code == STEP_IMPORT:  # [code, the user existed, the record's source attributes]
        change = "Update" if step[1] else "Add"
        name, kind, status, details = f"EntryImport{change}", "import", "success", {
            key: log_text(value) for key, value in step[2].items() if value is not None}
        description = f"Received {source_object} '{external_id}' change of type ({change}) from {source_directory}"
    elif code == STEP_SCOPING:  # [code, in scope, the record's active attribute]
        name, kind, status = "EntrySynchronizationScoping", "scoping", "success" if step[1] else "skipped"
        description = f"Determine if {source_object} in scope by evaluating against each scoping filter"
        details = {"Active in the source system": "True" if step[2] is None else log_text(step[2]),
                   "Scoping filter evaluation passed": log_text(step[1])}
    elif code == STEP_NEW:  # [code]
        name, kind, status, details = "EntrySynchronizationAdd", "matching", "success", {}
        description = (f"{source_object} '{external_id}' will be created in {target_directory} (no matching "
                       f"{target_object} was found in {target_directory})")
    elif code == STEP_MATCHED:  # [code, how it was found ("linked to", "matched on employeeId to"), user id]
        name, kind, status, details = "EntrySynchronizationUpdate", "matching", "success", {"TargetId": step[2]}
        description = f"{source_object} '{external_id}' is {step[1]} {target_object} '{step[2]}' in {target_directory}"
    else:  # STEP_EXPORT: [code, action (create, update or other: nothing to write), user name, targets not stored]
        action, user = step[1], step[2]
        details = {"ReportableIdentifier": external_id}
        for target in step[3]:
            details[target] = f"[{NOT_STORED_REASON}]"
        kind = "export"
        if action == "create":
            name, status, description = "EntryExportAdd", "success", f"User '{user}' was created in {target_directory}"
        elif action == "other":
            name, status = "EntryExportSkip", "skipped"
            description = f"User '{user}' is already up to date in {target_directory}: nothing was exported"
        else:
            name, status, description = "EntryExportUpdate", "success", f"User '{user}' was updated in {target_directory}"
    return {"name": name, "provisioningStepType": kind, "status": status, "description": description,
            "details": details}


def entry(settings: CycleSettings, cycle_id: str, rule: ObjectRule, source_id: str, doc: dict | None,
          outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The Graph provisioningObjectSummary of one object and action."""
    return expand(record(settings, cycle_id, rule, source_id, doc, outcome, now))


def on_demand_result(entry: dict[str, Any]) -> dict[str, str]:
    """provisionOnDemand's answer: a stringKeyStringValuePair whose key and value are JSON
    documents (the result, and a provisioning-log-like account with the steps)."""
    status = entry["provisioningStatusInfo"]["status"]
    error = entry["provisioningStatusInfo"].get("errorInformation") or {}
    skipped = status == "skipped"
    export = entry["provisioningSteps"][-1]
    key = {"result": status.capitalize(), "details": {
        "errorCode": error.get("errorCode") or ("RedundantExport" if skipped else None),
        "errorMessage": error.get("reason") or (export["description"] if skipped else None)}}
    value = {
        "action": entry["provisioningAction"].capitalize(),
        "changeId": entry["changeId"],
        "startTime": entry["activityDateTime"], "endTime": entry["activityDateTime"],
        "modifiedProperties": entry["modifiedProperties"],
        "provisioningSteps": [{"name": step["name"], "type": step["provisioningStepType"].capitalize(),
                               "status": step["status"].capitalize(), "description": step["description"],
                               "timestamp": entry["activityDateTime"], "details": step["details"]}
                              for step in entry["provisioningSteps"]],
        "reportableIdentifier": entry["sourceIdentity"]["displayName"],
        "statusInfo": {"status": status.capitalize(), "errorCode": error.get("errorCode"),
                       "reason": error.get("reason"), "additionalDetails": None,
                       "errorCategory": error.get("errorCategory"), "recommendedAction": None},
        "sourceIdentity": {"id": entry["sourceIdentity"]["id"], "type": entry["sourceIdentity"]["identityType"],
                           "displayName": entry["sourceIdentity"]["displayName"], "details": {}},
        "sourceSystem": {"id": None, "name": entry["sourceSystem"]["displayName"], "details": {}},
        "targetIdentity": {"id": entry["targetIdentity"]["id"], "type": entry["targetIdentity"]["identityType"],
                           "displayName": entry["targetIdentity"]["displayName"], "details": {}},
        "targetSystem": {"id": None, "name": entry["targetSystem"]["displayName"], "details": {}},
    }
    return {"key": json.dumps(key), "value": json.dumps(value)}
