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


def entry(settings: CycleSettings, cycle_id: str, rule: ObjectRule, source_id: str, doc: dict | None,
          outcome: Outcome, now: datetime) -> dict[str, Any]:
    kind = "Group" if rule.group else "User"
    name = (doc or {}).get("displayName") or (doc or {}).get("userPrincipalName") or source_id
    failed = outcome.status == "failure"
    steps = [
        {"name": "EntryImport", "provisioningStepType": "import", "status": "success",
         "description": f"Retrieved {kind} '{name}' from {settings.source_name}", "details": {}},
        {"name": "EntrySynchronizationScoping", "provisioningStepType": "scoping",
         "status": "skipped" if outcome.status == "skipped" and outcome.action == "other" else "success",
         "description": outcome.reason if outcome.status == "skipped" else f"{kind} '{name}' is in scope",
         "details": {}},
        {"name": "EntrySynchronizationAdd" if outcome.action == "create" else "EntryImport",
         "provisioningStepType": "matching", "status": "success",
         "description": (f"No matching {kind} was found in {settings.target_name}: it will be created"
                         if outcome.action == "create" else
                         f"Matched {kind} '{name}' in {settings.target_name}" if outcome.target_id else
                         f"{kind} '{name}' is not in {settings.target_name}"),
         "details": {"TargetId": outcome.target_id} if outcome.target_id else {}},
        {"name": _STEP_NAMES.get(outcome.action, "EntrySynchronizationSkip"), "provisioningStepType": "export",
         "status": outcome.status,
         "description": (f"Failed to {outcome.action} {kind} '{name}' in {settings.target_name}: {outcome.reason}"
                         if failed else f"{outcome.action.capitalize()} of {kind} '{name}' in "
                                        f"{settings.target_name}: {outcome.status}"),
         "details": {"ReportableIdentifier": name}},
    ]
    return {
        "id": str(uuid.uuid4()),
        "activityDateTime": format_datetime(now),
        "tenantId": settings.tenant_id,
        "jobId": settings.job_id,
        "cycleId": cycle_id,
        "changeId": str(uuid.uuid4()),
        "provisioningAction": outcome.action,
        "durationInMilliseconds": 0,
        "initiatedBy": INITIATOR,
        "servicePrincipal": {"id": settings.service_principal_id, "displayName": settings.service_principal_name},
        "sourceSystem": {"id": None, "displayName": settings.source_name, "details": {}},
        "targetSystem": {"id": None, "displayName": settings.target_name,
                         "details": {"ServicePrincipalId": settings.service_principal_id,
                                     "ServicePrincipalDisplayName": settings.service_principal_name}},
        "sourceIdentity": {"id": source_id, "displayName": name, "identityType": kind, "details": {}},
        "targetIdentity": {"id": outcome.target_id or "", "displayName": name, "identityType": rule.target_object,
                           "details": {}},
        "provisioningStatusInfo": {"status": outcome.status, "errorInformation": None if not failed else {
            "errorCode": outcome.error_code, "reason": outcome.reason, "additionalDetails": None,
            "errorCategory": "nonServiceFailure", "recommendedAction": None}},
        "provisioningSteps": steps,
        "modifiedProperties": [{"displayName": k, "oldValue": log_text(old), "newValue": log_text(new)}
                               for k, (old, new) in outcome.modified.items()],
    }


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
