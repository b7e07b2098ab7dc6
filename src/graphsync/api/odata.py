"""OData conventions: @odata.context, $select, $top/$skiptoken paging, $count."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from fastapi import Request

from graphsync.api.http import public_base, public_url
from graphsync.errors import BadRequest
from graphsync.services.paging import Page

MAX_TOP = 999
MAX_OFFSET = 2**31 - 1
DEFAULT_TOP = 100
UNSUPPORTED = ("$filter", "$orderby", "$search", "$skip")


@dataclass(frozen=True)
class Query:
    offset: int
    top: int
    explicit_top: bool
    count: bool
    select: tuple[str, ...]
    expand: tuple[str, ...]
    filter: str | None = None
    orderby: tuple[str, bool] | None = None  # (property, descending)


def parse_query(request: Request, *, collection: bool = True, expandable: tuple[str, ...] = (),
                filterable: bool = False, orderable: tuple[str, ...] = ()) -> Query:
    params = request.query_params
    for name in params:
        if (name == "$filter" and filterable) or (name == "$orderby" and orderable):
            continue
        if name.startswith("$") and name not in ("$top", "$skiptoken", "$count", "$select", "$expand", "$format"):
            if name in UNSUPPORTED:
                raise BadRequest(f"The query option '{name}' is not supported on this resource.")
            raise BadRequest(f"Unknown query option '{name}'.")
    top, explicit = DEFAULT_TOP, False
    if "$top" in params:
        if not collection:
            raise BadRequest("The query option '$top' applies to collections only.")
        try:
            top = int(params["$top"])
        except ValueError:
            raise BadRequest(f"Invalid $top value '{params['$top']}': expected an integer.") from None
        if not 1 <= top <= MAX_TOP:
            raise BadRequest(f"Invalid $top value '{top}': it must be between 1 and {MAX_TOP}.")
        explicit = True
    offset = 0
    if "$skiptoken" in params:
        offset, top = _read_skiptoken(params["$skiptoken"], top)
        explicit = True
    count = params.get("$count", "false").lower()
    if count not in ("true", "false"):
        raise BadRequest("Invalid $count value: expected true or false.")
    select = tuple(s.strip() for s in params.get("$select", "").split(",") if s.strip())
    expand = tuple(s.strip() for s in params.get("$expand", "").split(",") if s.strip())
    for item in expand:
        if item not in expandable:
            raise BadRequest(f"Could not find a navigation property '{item}' to expand.")
    orderby = _orderby(params["$orderby"], orderable) if orderable and "$orderby" in params else None
    return Query(offset, top, explicit, count == "true", select, expand,
                 params.get("$filter") if filterable else None, orderby)


def _orderby(text: str, orderable: tuple[str, ...]) -> tuple[str, bool]:
    """``prop``, ``prop asc`` or ``prop desc`` on one of the ``orderable`` properties."""
    words = text.split()
    names = {name.lower(): name for name in orderable}
    if not 1 <= len(words) <= 2 or words[0].lower() not in names or \
            (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise BadRequest(f"Invalid $orderby '{text}': supported is one of {', '.join(orderable)}, "
                         "followed by asc or desc.")
    return names[words[0].lower()], len(words) == 2 and words[1].lower() == "desc"


def _read_skiptoken(token: str, top: int) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
        offset, top = int(data["o"]), int(data.get("t", top))
    except (ValueError, KeyError, TypeError, OverflowError):
        raise BadRequest("The $skiptoken is invalid or expired.") from None
    if not (0 <= offset <= MAX_OFFSET and 1 <= top <= MAX_TOP):
        raise BadRequest("The $skiptoken is invalid or expired.")
    return offset, top


def _skiptoken(offset: int, top: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "t": top}).encode()).decode().rstrip("=")


def context_url(request: Request, fragment: str) -> str:
    version = request.path_params.get("version") or request.url.path.strip("/").split("/", 1)[0]
    return f"{public_base(request)}/{version}/$metadata#{fragment}"


def select_fields(doc: dict[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    if not select:
        return doc
    return {k: v for k, v in doc.items() if k in select or k == "id" or k.startswith("@odata")}


def entity(request: Request, doc: dict[str, Any], fragment: str, query: Query | None = None) -> dict[str, Any]:
    body = {"@odata.context": context_url(request, fragment)}
    body.update(select_fields(doc, query.select) if query else doc)
    return body


def collection(request: Request, page: Page, fragment: str, query: Query,
               render: Callable[[dict], dict] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": context_url(request, fragment)}
    if query.count:
        body["@odata.count"] = page.total
    items = [render(i) if render else i for i in page.items]
    body["value"] = [select_fields(i, query.select) for i in items]
    if page.next_offset is not None:
        params = {k: v for k, v in request.query_params.items() if k not in ("$skiptoken", "$top")}
        params["$skiptoken"] = _skiptoken(page.next_offset, query.top)
        body["@odata.nextLink"] = f"{public_url(request)}?{urlencode(params)}"
    return body


def paged(items: list[dict[str, Any]], query: Query) -> Page:
    """Page an in-memory list (small collections such as directory definitions)."""
    chunk = items[query.offset:query.offset + query.top]
    nxt = query.offset + query.top if query.offset + query.top < len(items) else None
    return Page(chunk, len(items), nxt)
