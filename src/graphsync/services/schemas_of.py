"""Schema operations shared by jobs and templates (the two things that own a schema)."""
from __future__ import annotations

from typing import Any, Literal

from graphsync.errors import BadRequest, Conflict, not_found
from graphsync.models import DirectoryDefinition, SynchronizationSchema
from graphsync.services import jobs, schema as schemas, templates
from graphsync.services.context import Context
from graphsync.services.synchronization import Owner

Parent = Literal["jobs", "templates"]


def get_schema(ctx: Context, owner: Owner, parent: Parent, ident: str) -> dict[str, Any]:
    if parent == "jobs":
        return jobs.get_job_schema(ctx, owner, ident)
    return templates.get_template_schema(ctx, owner, ident)


def replace_schema(ctx: Context, owner: Owner, parent: Parent, ident: str, body: SynchronizationSchema) -> None:
    if parent == "jobs":
        jobs.put_job_schema(ctx, owner, ident, body)
    else:
        templates.put_template_schema(ctx, owner, ident, body)


def reset_schema(ctx: Context, owner: Owner, parent: Parent, ident: str) -> None:
    if parent == "jobs":
        jobs.reset_job_schema(ctx, owner, ident)
    else:
        templates.reset_template_schema(ctx, owner, ident)


def _store(ctx: Context, owner: Owner, parent: Parent, ident: str, schema: dict[str, Any]) -> None:
    if parent == "jobs":
        jobs.set_job_schema(ctx, owner, ident, schema)
    else:
        templates.set_template_schema(ctx, owner, ident, schema)


def list_directories(ctx: Context, owner: Owner, parent: Parent, ident: str) -> list[dict[str, Any]]:
    return get_schema(ctx, owner, parent, ident).get("directories") or []


def get_directory(ctx: Context, owner: Owner, parent: Parent, ident: str, directory_id: str) -> dict[str, Any]:
    for directory in list_directories(ctx, owner, parent, ident):
        if directory.get("id") == directory_id:
            return directory
    raise not_found("directoryDefinition", directory_id)


def _with_directories(ctx, owner, parent, ident, change) -> dict[str, Any]:
    """Apply ``change`` to the directory list and store the schema, validated like a PUT."""
    schema = dict(get_schema(ctx, owner, parent, ident))
    schema["directories"] = change(list(schema.get("directories") or []))
    validated = schemas.normalise(SynchronizationSchema.model_validate(schema), schema.get("id") or ident)
    _store(ctx, owner, parent, ident, validated)
    return validated


def add_directory(ctx: Context, owner: Owner, parent: Parent, ident: str, body: DirectoryDefinition) -> dict[str, Any]:
    new = body.dump()

    def change(directories):
        if any(d.get("name") == new["name"] for d in directories):
            raise Conflict(f"The schema already has a directory named '{new['name']}'.")
        return directories + [new]

    stored = _with_directories(ctx, owner, parent, ident, change)
    return next(d for d in stored["directories"] if d["name"] == new["name"])


def update_directory(ctx: Context, owner: Owner, parent: Parent, ident: str, directory_id: str,
                     body: DirectoryDefinition) -> None:
    current = get_directory(ctx, owner, parent, ident, directory_id)
    if "name" in body.model_fields_set and body.name is None:
        raise BadRequest("The property 'name' of a directory definition cannot be null.")
    merged = {**current, **body.model_dump(mode="json", by_alias=True, exclude_unset=True), "id": directory_id}
    _with_directories(ctx, owner, parent, ident,
                      lambda ds: [merged if d.get("id") == directory_id else d for d in ds])


def delete_directory(ctx: Context, owner: Owner, parent: Parent, ident: str, directory_id: str) -> None:
    get_directory(ctx, owner, parent, ident, directory_id)
    _with_directories(ctx, owner, parent, ident, lambda ds: [d for d in ds if d.get("id") != directory_id])


def discover_directory(ctx: Context, owner: Owner, parent: Parent, ident: str, directory_id: str) -> dict[str, Any]:
    current = get_directory(ctx, owner, parent, ident, directory_id)
    refreshed = schemas.discover(current, ctx.now())
    schema = dict(get_schema(ctx, owner, parent, ident))
    schema["directories"] = [refreshed if d.get("id") == directory_id else d for d in schema["directories"]]
    _store(ctx, owner, parent, ident, schema)
    return refreshed


def require_parent(parent: str) -> Parent:
    if parent not in ("jobs", "templates"):
        raise BadRequest(f"'{parent}' has no schema.")
    return parent  # type: ignore[return-value]
