"""``/auditLogs/provisioning``: what the provisioning engine did, as provisioningObjectSummary."""
from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Depends, Request

from graphsync.api.auth import AUDIT_READ, allow
from graphsync.api.common import call, check_version, ok
from graphsync.api.odata import collection, parse_query
from graphsync.api.versions import provisioning_log_for
from graphsync.services import audit

router = APIRouter(prefix="/{version}", dependencies=[Depends(check_version)], tags=["audit logs"])
reader = allow(*AUDIT_READ)


@router.get("/auditLogs/provisioning")
async def list_provisioning_logs(request: Request, principal=Depends(reader)):
    query = parse_query(request, filterable=True, orderable=("activityDateTime",))
    newest_first = query.orderby is None or query.orderby[1]
    page = await call(request, principal, audit.list_logs, query.filter, query.offset, query.top, newest_first)
    version = request.path_params["version"]
    page = replace(page, items=[provisioning_log_for(version, doc) for doc in page.items])
    return ok(collection(request, page, "auditLogs/provisioning", query))
