"""Directory objects as the source attributes that expressions and scoping filters read.

Graph property names and Entra's synchronization attribute names differ in places
(``id`` → ``objectId``, ``officeLocation`` → ``physicalDeliveryOfficeName``, ``mobilePhone`` →
``mobile``…). ``IsSoftDeleted`` is true when the object is out of scope, soft-deleted or (users)
disabled, as Entra defines it.
"""
from __future__ import annotations

from typing import Any

_USER_RENAMES = {
    "id": "objectId",
    "officeLocation": "physicalDeliveryOfficeName",
    "mobilePhone": "mobile",
    "faxNumber": "facsimileTelephoneNumber",
}


def user_attributes(doc: dict[str, Any], *, soft_deleted: bool, manager_id: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key, value in doc.items():
        if key.startswith("@") or value is None:
            continue
        attributes[_USER_RENAMES.get(key, key)] = value
    phones = doc.get("businessPhones") or []
    if phones:
        attributes["telephoneNumber"] = phones[0]
    for key, value in (doc.get("employeeOrgData") or {}).items():
        attributes[f"employeeOrgData.{key}"] = value
    for key, value in (doc.get("onPremisesExtensionAttributes") or {}).items():
        attributes[key] = value
    if "accountEnabled" in doc:
        attributes["accountEnabled"] = bool(doc["accountEnabled"])
    attributes["IsSoftDeleted"] = soft_deleted
    if manager_id:
        attributes["manager"] = manager_id
    return attributes


def group_attributes(doc: dict[str, Any], *, soft_deleted: bool) -> dict[str, Any]:
    attributes = {("objectId" if k == "id" else k): v for k, v in doc.items()
                  if not k.startswith("@") and v is not None}
    attributes["IsSoftDeleted"] = soft_deleted
    return attributes


def is_disabled_or_deleted(object_type: str, doc: dict[str, Any]) -> bool:
    if doc.get("deletedDateTime"):
        return True
    return object_type == "user" and doc.get("accountEnabled") is False
