"""A job's schema compiled for the engine: per object mapping, the parsed attribute mappings,
the matching attributes in priority order, the scoping filter and what the target supports."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphsync import expressions

ENTERPRISE_MANAGER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"


@dataclass(frozen=True)
class AttributeRule:
    target: str
    source: expressions.Node | None
    default_value: str | None
    flow_type: str
    matching_priority: int
    target_type: str
    reference: bool  # manager, members: resolved to target ids in the reference pass

    @property
    def source_attribute(self) -> str | None:
        """The source attribute when the mapping is a direct one (``[manager]``)."""
        return self.source.name if isinstance(self.source, expressions.Attribute) else None


@dataclass
class ObjectRule:
    name: str
    source_object: str
    target_object: str
    enabled: bool
    flow_types: frozenset[str]
    scope: dict[str, Any] | None
    attributes: list[AttributeRule]
    soft_delete_supported: bool
    group: bool
    matching: list[AttributeRule] = field(default_factory=list)

    @property
    def resource(self) -> str:
        return "Groups" if self.group else "Users"

    @cached_property  # read for every object; the attributes don't change once compiled
    def plain_attributes(self) -> list[AttributeRule]:
        return [a for a in self.attributes if not a.reference]

    @cached_property
    def reference_attributes(self) -> list[AttributeRule]:
        return [a for a in self.attributes if a.reference]

    @cached_property
    def plain_readers(self) -> list[tuple[AttributeRule, str | None]]:
        """Each plain mapping with, when it is a direct one (``[userName]``), the source attribute
        it copies: ``evaluate`` reads those without the expression machinery (most mappings are)."""
        return [(a, a.source_attribute) for a in self.plain_attributes]


def _metadata(entries: list[dict] | None, key: str) -> str | None:
    return next((e.get("value") for e in entries or [] if e.get("key") == key), None)


def compile_schema(schema: dict[str, Any]) -> list[ObjectRule]:
    """Object rules of the schema's first outbound rule, users before groups."""
    directories = {d["name"]: d for d in schema.get("directories") or []}
    rules: list[ObjectRule] = []
    for rule in sorted(schema.get("synchronizationRules") or [], key=lambda r: r.get("priority", 0)):
        target_dir = directories.get(rule.get("targetDirectoryName"), {})
        for mapping in rule.get("objectMappings") or []:
            if not mapping.get("sourceObjectName"):
                continue
            target_object = next((o for o in target_dir.get("objects") or []
                                  if o["name"] == mapping.get("targetObjectName")), {})
            definitions = {a["name"]: a for a in target_object.get("attributes") or []}
            attributes = []
            for am in mapping.get("attributeMappings") or []:
                definition = definitions.get(am["targetAttributeName"], {})
                source = expressions.from_source(am["source"]) if am.get("source") else None
                attributes.append(AttributeRule(
                    target=am["targetAttributeName"], source=source, default_value=am.get("defaultValue"),
                    flow_type=am.get("flowType", "Always"), matching_priority=am.get("matchingPriority", 0),
                    target_type=definition.get("type", "String"),
                    reference=definition.get("type") == "Reference"))
            group = mapping["sourceObjectName"].lower() == "group"
            soft = _metadata(target_object.get("metadata"), "IsSoftDeletionSupported")
            object_rule = ObjectRule(
                name=mapping.get("name") or "", source_object=mapping["sourceObjectName"],
                target_object=mapping.get("targetObjectName") or "", enabled=mapping.get("enabled", True),
                flow_types=frozenset(f.strip() for f in (mapping.get("flowTypes") or "").split(",") if f.strip()),
                scope=mapping.get("scope"), attributes=attributes,
                soft_delete_supported=(soft or "true").lower() == "true", group=group)
            object_rule.matching = sorted((a for a in attributes if a.matching_priority > 0),
                                          key=lambda a: a.matching_priority)
            rules.append(object_rule)
    return sorted(rules, key=lambda r: r.group)


def typed(value: Any, target_type: str) -> Any:
    """Expression values are strings; the target wants booleans and integers as such."""
    if value is None or isinstance(value, list):
        return value
    if target_type == "Boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return True if text == "true" else False if text == "false" else value
    if target_type == "Integer":
        try:
            return int(str(value))
        except ValueError:
            return value
    return value


@dataclass
class Evaluated:
    values: dict[str, Any]  # target path → value to export
    shown: dict[str, Any]  # target path → value for logs ([Redact] where redacted)


def evaluate(rule: ObjectRule, attributes: dict[str, Any], context: expressions.EvaluationContext, *,
             creating: bool, exported: dict[str, Any] | None = None) -> Evaluated:
    """The target values of the non-reference mappings for one object.

    Flow types: ``ObjectAddOnly`` only on create; ``AttributeAddOnly`` only while the target has
    no value. ``defaultValue`` applies when the source is null, on create only (as the portal
    documents). ``IgnoreFlowIfNullOrEmpty`` drops the attribute."""
    exported = exported or {}
    values: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for attribute, direct in rule.plain_readers:
        if attribute.flow_type != "Always":
            if attribute.flow_type == "ObjectAddOnly" and not creating:
                continue
            if attribute.flow_type == "AttributeAddOnly" and exported.get(attribute.target) is not None:
                continue
        if direct is not None:  # what the Attribute node evaluates to, without its call chain
            result = attributes.get(direct)
            if result.__class__ is not str and result is not None:
                result = expressions.coerce_input(result)
            value = result
        else:
            result = expressions.evaluate(attribute.source, attributes, context) if attribute.source else None
            if result is expressions.IGNORE_FLOW:
                continue
            value = expressions.unwrap(result)
        if value is None:
            if attribute.default_value is None or not creating:
                continue
            value = result = attribute.default_value
        values[attribute.target] = value if attribute.target_type == "String" else typed(value, attribute.target_type)
        shown[attribute.target] = result if result.__class__ is str else expressions.for_log(result)
    return Evaluated(values, shown)
