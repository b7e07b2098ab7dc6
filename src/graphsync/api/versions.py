"""Differences between v1.0 and beta on the wire: beta spells the synchronizationMetadata keys of
templates in camelCase, all but one (reference §8, row 13), and its provisioningObjectSummary keeps
the deprecated ``action`` and ``statusInfo`` beside provisioningAction and provisioningStatusInfo
(row 21)."""
from __future__ import annotations

from typing import Any

from graphsync.models import V1_METADATA_KEYS

BETA_METADATA_KEYS = {key: (key if key == "IsSynchronizationAgentAssignmentRequired" else key[0].lower() + key[1:])
                      for key in V1_METADATA_KEYS}


def template_for(version: str, doc: dict[str, Any]) -> dict[str, Any]:
    if version != "beta" or not doc.get("metadata"):
        return doc
    metadata = [{**entry, "key": BETA_METADATA_KEYS.get(entry.get("key"), entry.get("key"))}
                for entry in doc["metadata"]]
    return {**doc, "metadata": metadata}


def provisioning_log_for(version: str, doc: dict[str, Any]) -> dict[str, Any]:
    if version != "beta":
        return doc
    info = doc.get("provisioningStatusInfo") or {}
    error = info.get("errorInformation")
    status_info: dict[str, Any] = {"status": info.get("status")}
    if error:  # beta's statusDetails: the status with the error's facts beside it
        status_info = {"@odata.type": "#microsoft.graph.statusDetails", **status_info,
                       **{key: error.get(key) for key in ("errorCode", "reason", "additionalDetails",
                                                          "errorCategory", "recommendedAction")}}
    return {**doc, "action": doc.get("provisioningAction"), "statusInfo": status_info}
