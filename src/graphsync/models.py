"""One pydantic model per Graph type, camelCase on the wire.

Request bodies are validated against these models: unknown properties and wrong types are a 400,
never a 500. ``model_dump(by_alias=True)`` of a validated model is the full normalised document we
store and return (Graph always emits every declared property).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel

# ---------------------------------------------------------------------------------------------
# Scalars: durations and flags enums, as Graph writes them and as the SDK sends them.

TIMESPAN_MAX = "P10675199DT2H48M5.4775807S"  # .NET TimeSpan.MaxValue: the interval of a disabled job
_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# "0:40:00" (Python str(timedelta), what the SDK sends), "1 day, 0:40:00", ".NET" "1.00:40:00"
_CLOCK_DURATION = re.compile(
    r"^(?:(?P<days>-?\d+) days?, |(?P<ndays>\d+)\.)?(?P<hours>\d+):(?P<minutes>\d{2}):(?P<seconds>\d{2}(?:\.\d+)?)$"
)
_MAX_DURATION = timedelta(days=10675199, hours=2, minutes=48, seconds=5, microseconds=477580)


def parse_duration(value: Any) -> timedelta:
    """ISO-8601 (``PT40M``) or clock form (``0:40:00``, ``1 day, 0:40:00``, ``1.00:40:00``)."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration must be a string such as 'PT40M'")
    text = value.strip()
    if text == TIMESPAN_MAX:
        return _MAX_DURATION
    try:
        return _parse_duration_text(text, value)
    except OverflowError:
        raise ValueError(f"'{value}' is out of range for a duration") from None


def _parse_duration_text(text: str, value: str) -> timedelta:
    match = _ISO_DURATION.match(text)
    if match and text not in ("P", "PT") and not text.endswith("T"):
        parts = {k: float(v) for k, v in match.groupdict().items() if v and k != "sign"}
        result = timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0), hours=parts.get("hours", 0),
                           minutes=parts.get("minutes", 0), seconds=parts.get("seconds", 0))
        return -result if match.group("sign") else result
    match = _CLOCK_DURATION.match(text)
    if match:
        days = int(match.group("days") or match.group("ndays") or 0)
        return timedelta(days=days, hours=int(match.group("hours")), minutes=int(match.group("minutes")),
                         seconds=float(match.group("seconds")))
    raise ValueError(f"'{value}' is not a duration (expected ISO-8601 such as 'PT40M')")


def format_duration(value: timedelta) -> str:
    """ISO-8601 the way Graph writes it: ``PT40M``, ``P1DT2H``, ``PT0S``."""
    if value >= _MAX_DURATION:
        return TIMESPAN_MAX
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    micro = abs(int(round(total * 1_000_000)))
    days, rem = divmod(micro, 86_400 * 1_000_000)
    hours, rem = divmod(rem, 3_600 * 1_000_000)
    minutes, rem = divmod(rem, 60 * 1_000_000)
    seconds = rem / 1_000_000
    out = f"{sign}P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds:
        clock += (f"{seconds:.7f}".rstrip("0").rstrip(".") if seconds % 1 else str(int(seconds))) + "S"
    if clock:
        out += "T" + clock
    return out if out not in ("P", "-P") else "PT0S"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


def format_datetime(value: datetime | None) -> str | None:
    """UTC with a ``Z`` and only the fractional digits that carry information, as Graph writes it
    (four-digit years: ``0001-01-01T00:00:00Z``, Graph's "never")."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    text = value.replace(tzinfo=None, microsecond=0).isoformat()
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _in_utc(value: datetime) -> datetime:
    """A date-time that has a UTC form (written back as UTC): 9999-12-31T23:59:59-10:00 has none."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the date-time lies beyond 0001-01-01 to 9999-12-31 in UTC") from None


UtcDateTime = Annotated[datetime, AfterValidator(_in_utc), PlainSerializer(format_datetime, return_type=str)]


NEVER = "0001-01-01T00:00:00Z"


def _flags(members: tuple[str, ...]):
    """A Graph flags enum: one string of comma-separated names, with or without spaces, or a list
    (the SDK's deserialiser produces lists); normalised to ``"A, B"``."""
    by_lower = {m.lower(): m for m in members}

    def validate(value: Any) -> str:
        items = value if isinstance(value, list) else (value.split(",") if isinstance(value, str) else None)
        if items is None:
            raise ValueError(f"expected a comma-separated string of {', '.join(members)}")
        names = []
        for item in items:
            name = str(item).strip()
            if not name:
                continue
            if name.lower() not in by_lower:
                raise ValueError(f"'{name}' is not one of {', '.join(members)}")
            if by_lower[name.lower()] not in names:
                names.append(by_lower[name.lower()])
        return ", ".join(names) if names else members[0]

    return Annotated[str, BeforeValidator(validate)]


ObjectFlowTypes = _flags(("None", "Add", "Update", "Delete"))
RestartScope = _flags(("None", "ConnectorDataStore", "Escrows", "Watermark", "QuarantineState", "Full", "ForceDeletes"))
Discoverabilities = _flags(("None", "AttributeNames", "AttributeDataTypes", "AttributeReadOnly", "ReferenceAttributes",
                            "UnknownFutureValue"))

AttributeType = Literal["String", "Integer", "Reference", "Binary", "Boolean", "DateTime"]
Mutability = Literal["ReadWrite", "ReadOnly", "Immutable", "WriteOnly"]
FlowBehavior = Literal["FlowWhenChanged", "FlowAlways"]
FlowType = Literal["Always", "ObjectAddOnly", "MultiValueAddOnly", "ValueAddOnly", "AttributeAddOnly"]
SourceType = Literal["Attribute", "Constant", "Function"]
ScheduleState = Literal["Active", "Disabled", "Paused"]

SECRET_KEYS = (
    "None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress", "ClientIdentifier", "ClientSecret",
    "SingleSignOnType", "Sandbox", "Url", "Domain", "ConsumerKey", "ConsumerSecret", "TokenKey", "TokenExpiration",
    "Oauth2AccessToken", "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken", "SyncAll", "InstanceName",
    "Oauth2ClientId", "Oauth2ClientSecret", "CompanyId", "UpdateKeyOnSoftDelete", "SynchronizationSchedule",
    "SystemOfRecord", "SandboxName", "EnforceDomain", "SyncNotificationSettings", "SkipOutOfScopeDeletions",
    "Oauth2AuthorizationCode", "Oauth2RedirectUri", "ApplicationTemplateIdentifier", "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri", "AuthenticationType", "Server", "PerformInboundEntitlementGrants",
    "HardDeletesEnabled", "SyncAgentCompatibilityKey", "SyncAgentADContainer", "ValidateDomain", "TestReferences",
    "ConnectionString",
)
# synchronizationMetadata keys in their v1.0 spelling (beta writes them camelCase)
V1_METADATA_KEYS = ("GalleryApplicationIdentifier", "GalleryApplicationKey", "IsOAuthEnabled",
                    "IsSynchronizationAgentAssignmentRequired", "IsSynchronizationAgentRequired",
                    "IsSynchronizationInPreview", "OAuthSettings", "SynchronizationLearnMoreIbizaFwLink",
                    "ConfigurationFields")
SecretKey = Literal[SECRET_KEYS]  # type: ignore[valid-type]


class GraphModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True,
                              validate_default=False)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---------------------------------------------------------------------------------------------
# Small shared types

class KeyValuePair(GraphModel):
    name: str
    value: str | None = None


class StringKeyStringValuePair(GraphModel):
    key: str | None = None
    value: str | None = None


class SecretPair(GraphModel):
    """synchronizationSecretKeyStringValuePair"""
    key: SecretKey
    value: str | None = None


class MetadataEntry(GraphModel):
    key: str | None = None
    value: str | None = None


# ---------------------------------------------------------------------------------------------
# Schema: directories, objects, attributes

class ReferencedObject(GraphModel):
    referenced_object_name: str | None = None
    referenced_property: str | None = None


class AttributeDefinition(GraphModel):
    anchor: bool = False
    api_expressions: list[StringKeyStringValuePair] | None = None
    case_exact: bool = False
    default_value: str | None = None
    flow_null_values: bool = False
    metadata: list[MetadataEntry] | None = None
    multivalued: bool = False
    mutability: Mutability = "ReadWrite"
    name: str
    referenced_objects: list[ReferencedObject] | None = None
    required: bool = False
    type: AttributeType = "String"


class ObjectDefinition(GraphModel):
    attributes: list[AttributeDefinition] | None = None
    metadata: list[MetadataEntry] | None = None
    name: str
    supported_apis: list[str] | None = None


class DirectoryDefinition(GraphModel):
    id: str | None = None
    discoverabilities: Discoverabilities = "None"  # type: ignore[valid-type]
    discovery_date_time: str | None = None
    name: str
    objects: list[ObjectDefinition] | None = None
    read_only: bool = False
    version: str | None = None


class DirectoryDefinitionUpdate(DirectoryDefinition):
    name: str | None = None  # PATCH: every property optional


# ---------------------------------------------------------------------------------------------
# Schema: rules, mappings, scoping filters

class AttributeMappingSource(GraphModel):
    expression: str | None = None
    name: str | None = None
    parameters: list[SourceParameter] | None = None
    type: SourceType = "Attribute"


class SourceParameter(GraphModel):
    """stringKeyAttributeMappingSourceValuePair"""
    key: str | None = None
    value: AttributeMappingSource | None = None


AttributeMappingSource.model_rebuild()


class AttributeMapping(GraphModel):
    default_value: str | None = None
    export_missing_references: bool = False
    flow_behavior: FlowBehavior = "FlowWhenChanged"
    flow_type: FlowType = "Always"
    matching_priority: int = 0
    source: AttributeMappingSource | None = None
    target_attribute_name: str


class FilterOperand(GraphModel):
    values: list[str] | None = None


class FilterClause(GraphModel):
    operator_name: str
    source_operand_name: str
    target_operand: FilterOperand | None = None


class FilterGroup(GraphModel):
    clauses: list[FilterClause] | None = None
    name: str | None = None


class Filter(GraphModel):
    category_filter_groups: list[FilterGroup] | None = None
    groups: list[FilterGroup] | None = None
    input_filter_groups: list[FilterGroup] | None = None


class ObjectMapping(GraphModel):
    attribute_mappings: list[AttributeMapping] | None = None
    enabled: bool = True
    flow_types: ObjectFlowTypes = "Add, Update, Delete"  # type: ignore[valid-type]
    metadata: list[MetadataEntry] | None = None
    name: str | None = None
    scope: Filter | None = None
    source_object_name: str | None = None
    target_object_name: str | None = None


class ContainerFilter(GraphModel):
    included_containers: list[str] | None = None


class GroupFilter(GraphModel):
    included_groups: list[str] | None = None


class SynchronizationRule(GraphModel):
    container_filter: ContainerFilter | None = None
    editable: bool = True
    group_filter: GroupFilter | None = None
    id: str | None = None
    metadata: list[StringKeyStringValuePair] | None = None
    name: str | None = None
    object_mappings: list[ObjectMapping] | None = None
    priority: int = 0
    source_directory_name: str | None = None
    target_directory_name: str | None = None


class SynchronizationSchema(GraphModel):
    id: str | None = None
    version: str | None = None
    directories: list[DirectoryDefinition] | None = None
    synchronization_rules: list[SynchronizationRule] | None = None


# ---------------------------------------------------------------------------------------------
# Jobs, templates, synchronization

class SynchronizationSchedule(GraphModel):
    expiration: UtcDateTime | None = None
    interval: Duration | None = None
    state: ScheduleState | None = None


class JobCreate(GraphModel):
    """POST jobs: only templateId matters; read-only properties the SDK may echo are accepted and ignored."""
    template_id: str
    id: str | None = None
    schedule: SynchronizationSchedule | None = None
    synchronization_job_settings: list[KeyValuePair] | None = None
    status: dict[str, Any] | None = None
    schema_: SynchronizationSchema | None = Field(default=None, alias="schema")


class JobUpdate(GraphModel):
    """PATCH job (what the SDK sends): the schedule and the job settings are writable."""
    id: str | None = None
    template_id: str | None = None
    schedule: SynchronizationSchedule | None = None
    synchronization_job_settings: list[KeyValuePair] | None = None
    status: dict[str, Any] | None = None


class RestartCriteria(GraphModel):
    reset_scope: RestartScope | None = None  # type: ignore[valid-type]


class RestartBody(GraphModel):
    criteria: RestartCriteria | None = None


class ValidateCredentialsBody(GraphModel):
    application_identifier: str | None = None
    credentials: list[SecretPair] | None = None
    template_id: str | None = None
    use_saved_credentials: bool | None = None


class SecretsBody(GraphModel):
    value: list[SecretPair] | None = None
    credentials: list[SecretPair] | None = None  # the docs' parameter table calls it so

    @property
    def pairs(self) -> list[SecretPair]:
        return (self.value or []) + (self.credentials or [])


class SynchronizationBody(GraphModel):
    id: str | None = None
    secrets: list[SecretPair] | None = None
    jobs: list[dict[str, Any]] | None = None
    templates: list[dict[str, Any]] | None = None


class TemplateBody(GraphModel):
    id: str | None = None
    application_id: str | None = None
    default: bool | None = None
    description: str | None = None
    discoverable: bool | None = None
    factory_tag: str | None = None
    metadata: list[MetadataEntry] | None = None
    schema_: SynchronizationSchema | None = Field(default=None, alias="schema")


class ExpressionInputObject(GraphModel):
    definition: ObjectDefinition | None = None
    properties: list[dict[str, Any]] | None = None


class ParseExpressionBody(GraphModel):
    expression: str
    test_input_object: ExpressionInputObject | None = None
    target_attribute_definition: AttributeDefinition | None = None


# ---------------------------------------------------------------------------------------------
# Applications and service principals (the subset provisioning needs)

class ApplicationBody(GraphModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)
    display_name: str | None = Field(default=None, max_length=256)
    description: str | None = None
    notes: str | None = None
    sign_in_audience: str | None = None
    tags: list[str] | None = None
    identifier_uris: list[str] | None = None
    web: dict[str, Any] | None = None

    @field_validator("display_name")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("displayName must not be empty")
        return value


class ServicePrincipalBody(GraphModel):
    app_id: str | None = None
    display_name: str | None = Field(default=None, max_length=256)
    account_enabled: bool | None = None
    app_role_assignment_required: bool | None = None
    description: str | None = None
    notes: str | None = None
    tags: list[str] | None = None
    preferred_single_sign_on_mode: str | None = None


class InstantiateBody(GraphModel):
    display_name: str = Field(min_length=1, max_length=256)
    service_management_reference: str | None = None

    @field_validator("display_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("displayName must not be empty")
        return value


# ---------------------------------------------------------------------------------------------
# provisionOnDemand

class JobSubject(GraphModel):
    object_id: str
    object_type_name: str
    links: LinkedObjects | None = None


class LinkedObjects(GraphModel):
    manager: JobSubject | None = None
    members: list[JobSubject] | None = None
    owners: list[JobSubject] | None = None


JobSubject.model_rebuild()


class ApplicationParameters(GraphModel):
    rule_id: str | None = None
    subjects: list[JobSubject] = Field(min_length=1, max_length=5)


class ProvisionOnDemandBody(GraphModel):
    parameters: list[ApplicationParameters] = Field(min_length=1, max_length=1)
