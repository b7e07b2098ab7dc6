"""``POST /{version}/{servicePrincipals|applications}/{id}/synchronization/jobs/{jobId}/bulkUpload``:
API-driven inbound provisioning. A SCIM BulkRequest of worker records is staged for the job and
answered 202 with a ``Location`` of the job's provisioning logs; the engine applies the records
asynchronously. Thin: read → parse → stage in one tenant transaction → render."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from graphsync.api.auth import UPLOAD, allow
from graphsync.api.common import call_owned, check_version, limit, wake_engine
from graphsync.api.http import public_base, read_body
from graphsync.engine.inbound import parse_bulk_request
from graphsync.errors import BadRequest, UnsupportedMediaType
from graphsync.services import inbound

ROOTS = ("applications", "servicePrincipals")
CONTENT_TYPES = ("application/scim+json", "application/json")


def build(root: str) -> APIRouter:
    router = APIRouter(prefix=f"/{{version}}/{root}/{{owner_id}}/synchronization/jobs/{{job_id}}",
                       dependencies=[Depends(check_version)], tags=[f"{root} synchronization"])
    uploader = allow(*UPLOAD)

    @router.post("/bulkUpload")
    async def bulk_upload(request: Request, owner_id: str, job_id: str, version: str,
                          principal=Depends(uploader)):
        try:
            raw = await read_body(request, limit(request), content_types=CONTENT_TYPES)
        except UnsupportedMediaType as exc:  # Entra answers 400 "Invalid Data Format" here
            raise BadRequest(f"Invalid Data Format: {exc.message}") from None
        operations = await run_in_threadpool(parse_bulk_request, raw, 0)
        await call_owned(request, principal, root, owner_id, inbound.stage, job_id, operations)
        await wake_engine(request, principal, owner_id, job_id)
        base = public_base(request)
        location = f"{base}/{version}/auditLogs/provisioning?$filter=" + quote(f"jobId eq '{job_id}'", safe="'")
        return Response(status_code=202, headers={"Location": location})

    return router
