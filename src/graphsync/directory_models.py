"""Request bodies of the directory (users, groups, app role assignments), camelCase on the wire.

Every property is optional in the model so one model serves create (POST, where the service
checks what Graph requires) and update (PATCH, where only the properties sent change).
"""
from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, field_validator

from graphsync.models import GraphModel, UtcDateTime


class PasswordProfile(GraphModel):
    """Accepted as Graph requires it on create; graphsync has no sign-in, so it is never stored."""
    password: str | None = None
    force_change_password_next_sign_in: bool | None = None
    force_change_password_next_sign_in_with_mfa: bool | None = None


class EmployeeOrgData(GraphModel):
    cost_center: str | None = None
    division: str | None = None


class UserBody(GraphModel):
    account_enabled: bool | None = None
    business_phones: list[str] | None = None
    city: str | None = None
    company_name: str | None = None
    country: str | None = None
    department: str | None = None
    display_name: str | None = Field(default=None, max_length=256)
    employee_hire_date: UtcDateTime | None = None
    employee_id: str | None = Field(default=None, max_length=16)
    employee_leave_date_time: UtcDateTime | None = None
    employee_org_data: EmployeeOrgData | None = None
    employee_type: str | None = None
    fax_number: str | None = None
    given_name: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=128)
    mail: str | None = None
    mail_nickname: str | None = Field(default=None, max_length=64)
    mobile_phone: str | None = None
    office_location: str | None = None
    on_premises_immutable_id: str | None = None
    other_mails: list[str] | None = None
    password_profile: PasswordProfile | None = None
    postal_code: str | None = None
    preferred_language: str | None = None
    state: str | None = None
    street_address: str | None = None
    surname: str | None = Field(default=None, max_length=64)
    usage_location: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    user_principal_name: str | None = Field(default=None, max_length=113)
    user_type: Literal["Member", "Guest"] | None = None


class GroupBody(GraphModel):
    description: str | None = None
    display_name: str | None = Field(default=None, max_length=256)
    group_types: list[str] | None = None
    mail_enabled: bool | None = None
    mail_nickname: str | None = Field(default=None, max_length=64)
    security_enabled: bool | None = None
    visibility: Literal["Public", "Private", "HiddenMembership"] | None = None


class AppRoleAssignmentBody(GraphModel):
    principal_id: str
    resource_id: str
    app_role_id: str

    @field_validator("principal_id", "resource_id", "app_role_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"'{value}' is not a valid GUID") from None
