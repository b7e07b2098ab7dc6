"""Synchronization schemas: validation, versioning, directory discovery.

A schema that would make the engine guess is refused with a 400 that names the bad part:
rules must name directories of the schema, object mappings objects of those directories,
attribute mappings attributes of those objects, and expressions must parse.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterator

from graphsync import expressions
from graphsync.errors import BadRequest
from graphsync.models import SynchronizationSchema, format_datetime

MAX_PROBLEMS = 20


class SchemaInvalid(BadRequest):
    def __init__(self, problems: list[str]):
        shown = problems[:MAX_PROBLEMS]
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        super().__init__("The synchronization schema is invalid: " + "; ".join(shown) + more,
                         code="InvalidSynchronizationSchema")
        self.problems = problems


def normalise(schema: SynchronizationSchema, schema_id: str) -> dict[str, Any]:
    """Validate, then return the stored form with a fresh version (every change gets a new one)."""
    problems = list(find_problems(schema))
    if problems:
        raise SchemaInvalid(problems)
    doc = schema.dump()
    doc["id"] = schema_id
    doc["version"] = uuid.uuid4().hex
    for directory in doc.get("directories") or []:
        directory["id"] = directory.get("id") or str(uuid.uuid4())
    return doc


def find_problems(schema: SynchronizationSchema) -> Iterator[str]:
    directories = schema.directories or []
    by_name: dict[str, Any] = {}
    for i, directory in enumerate(directories):
        if directory.name in by_name:
            yield f"directories[{i}]: the directory name '{directory.name}' is used twice"
        by_name[directory.name] = directory
        seen_objects: set[str] = set()
        for j, obj in enumerate(directory.objects or []):
            if obj.name in seen_objects:
                yield f"directories[{i}].objects[{j}]: the object name '{obj.name}' is used twice in '{directory.name}'"
            seen_objects.add(obj.name)
    for r, rule in enumerate(schema.synchronization_rules or []):
        where = f"synchronizationRules[{r}]"
        source_dir = by_name.get(rule.source_directory_name or "")
        target_dir = by_name.get(rule.target_directory_name or "")
        if source_dir is None:
            yield f"{where}.sourceDirectoryName: '{rule.source_directory_name}' is not a directory of the schema"
        if target_dir is None:
            yield f"{where}.targetDirectoryName: '{rule.target_directory_name}' is not a directory of the schema"
        if source_dir is None or target_dir is None:
            continue
        for m, mapping in enumerate(rule.object_mappings or []):
            yield from _mapping_problems(f"{where}.objectMappings[{m}]", mapping, source_dir, target_dir)


def _object(directory, name: str | None):
    return next((o for o in directory.objects or [] if o.name == name), None)


def _mapping_problems(where: str, mapping, source_dir, target_dir) -> Iterator[str]:
    if not mapping.enabled and not mapping.source_object_name:
        return  # disabled helper mappings without objects exist in real templates
    source = _object(source_dir, mapping.source_object_name)
    target = _object(target_dir, mapping.target_object_name)
    if source is None:
        yield f"{where}.sourceObjectName: '{mapping.source_object_name}' is not an object of directory '{source_dir.name}'"
    if target is None:
        yield f"{where}.targetObjectName: '{mapping.target_object_name}' is not an object of directory '{target_dir.name}'"
    source_attributes = {a.name for a in source.attributes or []} if source and source.attributes else None
    target_attributes = {a.name for a in target.attributes or []} if target and target.attributes else None
    for a, attribute_mapping in enumerate(mapping.attribute_mappings or []):
        here = f"{where}.attributeMappings[{a}]"
        name = attribute_mapping.target_attribute_name
        if target_attributes is not None and name not in target_attributes:
            yield f"{here}.targetAttributeName: '{name}' is not an attribute of object '{target.name}' in directory '{target_dir.name}'"
        if attribute_mapping.source is None:
            if attribute_mapping.default_value is None:
                yield f"{here}: a mapping needs a source or a defaultValue"
            continue
        yield from _source_problems(f"{here}.source", attribute_mapping.source, source_attributes, source)
    if mapping.scope is not None:
        scope = mapping.scope.dump()
        for problem in expressions.validate_filter(scope):
            yield f"{where}.scope: {problem}"
        for g, group in enumerate(mapping.scope.groups or []):
            for c, clause in enumerate(group.clauses or []):
                if source_attributes is not None and clause.source_operand_name not in source_attributes:
                    yield (f"{where}.scope.groups[{g}].clauses[{c}].sourceOperandName: '{clause.source_operand_name}' "
                           f"is not an attribute of object '{source.name}'")


def _source_problems(where: str, source, source_attributes: set[str] | None, source_object) -> Iterator[str]:
    try:
        node = expressions.from_source(source.dump())
    except expressions.ExpressionError as exc:
        yield f"{where}: {exc}"
        return
    if source_attributes is None:
        return
    for name in sorted(set(_attribute_names(expressions.to_source(node)))):
        if name not in source_attributes:
            yield f"{where}: [{name}] is not an attribute of object '{source_object.name}'"


def _attribute_names(tree: dict[str, Any]) -> Iterator[str]:
    if tree.get("type") == "Attribute":
        yield tree.get("name") or ""
    for parameter in tree.get("parameters") or []:
        if parameter.get("value"):
            yield from _attribute_names(parameter["value"])


def discover(directory: dict[str, Any], now) -> dict[str, Any]:
    """Re-read a directory definition. graphsync's own directories and the SCIM target catalogue are
    static (as Entra's are for non-gallery SCIM apps), so discovery stamps a new version and time."""
    refreshed = dict(directory)
    refreshed["discoveryDateTime"] = format_datetime(now)
    refreshed["version"] = uuid.uuid4().hex
    refreshed["discoverabilities"] = "AttributeNames, AttributeDataTypes, AttributeReadOnly, ReferenceAttributes"
    return refreshed
