"""Built-in synchronization templates and the applicationTemplate catalogue.

The data lives in JSON files next to this module (shipped as package data):

``scim.json``
    Template ``scim`` (factoryTag ``CustomSCIM``): Microsoft Entra ID users and
    groups to a SCIM 2.0 app ("non-gallery" app). Directories ``Microsoft Entra ID``
    (source) and ``customappsso`` (target), rule ``USERGROUP_OUTBOUND_USERGROUP``
    with Entra's default 22 user rows and 3 group rows.
``API2AAD.json``
    Template ``API2AAD`` (factoryTag ``API2AAD``): API-driven inbound provisioning,
    SCIM core + enterprise user records posted to ``bulkUpload`` → Entra users.
    Directories ``API`` (source, first, as the CSV2SCIM script expects) and
    ``Microsoft Entra ID`` (target).
``application_templates.json``
    Graph ``applicationTemplate`` resources served at ``/applicationTemplates``, each
    with the synchronization template ids an application instantiated from it gets.

Everything is read once, cached, and handed out as deep copies: callers may mutate
what they get (e.g. set ``applicationId`` or rewrite the schema id for a job)
without affecting anyone else. This module does no I/O beyond reading its own
package data and has no other graphsync dependency.

Notes for callers:

* ``applicationId`` in the template data is the all-zero GUID placeholder; the
  service sets the owning application's id (``templates_for_application`` does it
  when given one).
* ``schema.id`` is ``{templateId}.00000000000000000000000000000000`` (the form of
  template schemas); a job's schema id is the job id.
* Metadata keys are stored in their v1.0 (PascalCase) spelling; the beta
  camelCase spelling is a rendering concern of the API layer.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "CUSTOM_APP_TEMPLATE_ID",
    "API_DRIVEN_APP_TEMPLATE_ID",
    "SCIM_TEMPLATE_ID",
    "API2AAD_TEMPLATE_ID",
    "PLACEHOLDER_APPLICATION_ID",
    "builtin_templates",
    "builtin_template",
    "builtin_template_for_factory_tag",
    "application_templates",
    "application_template",
    "templates_for_application_template",
    "default_templates_for_plain_application",
    "templates_for_application",
]

#: Entra's application template of every non-gallery ("Custom") application.
CUSTOM_APP_TEMPLATE_ID = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
#: graphsync's own id for the "API-driven provisioning to Microsoft Entra ID" app
#: template (Entra's real id for that gallery app is not public; this one is ours).
API_DRIVEN_APP_TEMPLATE_ID = "557df4cf-766b-4086-85d9-55769b9c02cb"

SCIM_TEMPLATE_ID = "scim"
API2AAD_TEMPLATE_ID = "API2AAD"
PLACEHOLDER_APPLICATION_ID = "00000000-0000-0000-0000-000000000000"

_TEMPLATE_FILES = ("scim.json", "API2AAD.json")
_APP_TEMPLATE_FILE = "application_templates.json"
# Order matters: the first one is the default template of a plain application.
_PLAIN_APPLICATION_TEMPLATES = (SCIM_TEMPLATE_ID, API2AAD_TEMPLATE_ID)


def _read_json(name: str) -> Any:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _templates() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in _TEMPLATE_FILES:
        data = _read_json(name)
        out[data["id"]] = data
    return out


@lru_cache(maxsize=1)
def _app_catalogue() -> list[dict[str, Any]]:
    return list(_read_json(_APP_TEMPLATE_FILE)["applicationTemplates"])


def _find_template_id(template_id: str) -> str | None:
    templates = _templates()
    if template_id in templates:
        return template_id
    folded = template_id.casefold()
    for tid in templates:
        if tid.casefold() == folded:
            return tid
    return None


def _find_app_entry(app_template_id: str) -> dict[str, Any] | None:
    folded = app_template_id.strip().casefold()
    for entry in _app_catalogue():
        if entry["applicationTemplate"]["id"].casefold() == folded:
            return entry
    return None


# ---------------------------------------------------------------- synchronization templates
def builtin_templates() -> dict[str, dict[str, Any]]:
    """All built-in synchronizationTemplates (with ``schema``), keyed by template id."""
    return copy.deepcopy(_templates())


def builtin_template(template_id: str) -> dict[str, Any] | None:
    """One built-in template (with ``schema``), or ``None``.

    Exact id first, then a case-insensitive match (``api2aad`` finds ``API2AAD``).
    """
    tid = _find_template_id(template_id)
    return None if tid is None else copy.deepcopy(_templates()[tid])


def builtin_template_for_factory_tag(factory_tag: str) -> dict[str, Any] | None:
    """The built-in template whose ``factoryTag`` (case-insensitive) or id is given.

    For ``POST …/synchronization/templates`` without a ``schema``: Graph then uses
    the default schema of the template's factoryTag.
    """
    folded = factory_tag.casefold()
    for tid, data in _templates().items():
        if (data.get("factoryTag") or "").casefold() == folded:
            return copy.deepcopy(data)
    return builtin_template(factory_tag)


# ---------------------------------------------------------------- application templates
def application_templates() -> list[dict[str, Any]]:
    """The Graph ``applicationTemplate`` resources, in catalogue order."""
    return [copy.deepcopy(e["applicationTemplate"]) for e in _app_catalogue()]


def application_template(app_template_id: str) -> dict[str, Any] | None:
    """One ``applicationTemplate`` resource by id (GUID compared case-insensitively)."""
    entry = _find_app_entry(app_template_id)
    return None if entry is None else copy.deepcopy(entry["applicationTemplate"])


def templates_for_application_template(app_template_id: str) -> list[str]:
    """Synchronization template ids of an app instantiated from this app template.

    ``[]`` for an unknown application template.
    """
    entry = _find_app_entry(app_template_id)
    return [] if entry is None else list(entry["synchronizationTemplateIds"])


def default_templates_for_plain_application() -> list[str]:
    """Template ids of an application created by a plain ``POST /applications``.

    graphsync offers both outbound SCIM and API-driven inbound on such apps; the
    first id is the default one.
    """
    return list(_PLAIN_APPLICATION_TEMPLATES)


def templates_for_application(
    app_template_id: str | None, application_id: str | None = None
) -> list[dict[str, Any]]:
    """Full template copies as ``GET …/synchronization/templates`` lists them.

    ``app_template_id`` ``None`` (or unknown) means a plain application. Exactly the
    first template is marked ``default``; ``applicationId`` is set when given.
    """
    ids = templates_for_application_template(app_template_id) if app_template_id else []
    if not ids:
        ids = default_templates_for_plain_application()
    out: list[dict[str, Any]] = []
    for i, tid in enumerate(ids):
        tmpl = builtin_template(tid)
        if tmpl is None:  # pragma: no cover - guarded by the unit tests
            continue
        tmpl["default"] = i == 0
        if application_id is not None:
            tmpl["applicationId"] = application_id
        out.append(tmpl)
    return out
