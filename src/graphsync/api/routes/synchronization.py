"""Routes under ``/{version}/{applications|servicePrincipals}/{id}/synchronization``: the
synchronization entity, secrets, jobs and templates. Thin: parse → call a service → render."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from graphsync.api.auth import SECRETS_WRITE, SYNC_READ, SYNC_WRITE, allow
from graphsync.api.common import call_owned, check_version, limit, no_content, ok, wake_engine
from graphsync.api.http import public_base, read_json
from graphsync.api.odata import collection, entity, parse_query
from graphsync.api.versions import template_for
from graphsync.errors import NotImplementedYet
from graphsync.models import (JobCreate, JobUpdate, ProvisionOnDemandBody, RestartBody, SecretsBody,
                              SynchronizationBody, TemplateBody, ValidateCredentialsBody)
from graphsync.services import jobs, provisioning, synchronization, templates
from graphsync.services.paging import Page

ROOTS = ("applications", "servicePrincipals")
SYNCHRONIZATION_TYPE = "#microsoft.graph.synchronization"


def build(root: str) -> APIRouter:
    router = APIRouter(prefix=f"/{{version}}/{root}/{{owner_id}}/synchronization",
                       dependencies=[Depends(check_version)], tags=[f"{root} synchronization"])
    reader, writer, secret_writer = allow(*SYNC_READ), allow(*SYNC_WRITE), allow(*SECRETS_WRITE)

    def here(owner_id: str, tail: str = "") -> str:
        return f"{root}('{owner_id}')/synchronization{tail}"

    def synchronization_entity(request: Request, owner_id: str, doc: dict, query=None) -> dict:
        """As the documentation's example shows it: with its @odata.type."""
        return entity(request, {"@odata.type": SYNCHRONIZATION_TYPE, **doc},
                      f"{root}('{owner_id}')/synchronization/$entity", query)

    # -- the synchronization entity ------------------------------------------------------------

    @router.get("")
    async def get_synchronization(request: Request, owner_id: str, principal=Depends(reader)):
        query = parse_query(request, collection=False)
        doc = await call_owned(request, principal, root, owner_id, synchronization.get_synchronization)
        return ok(synchronization_entity(request, owner_id, doc, query))

    async def _update(request: Request, owner_id: str, principal, replace: bool):
        body = await read_json(request, SynchronizationBody, limit(request))
        doc = await call_owned(request, principal, root, owner_id, synchronization.update_synchronization, body,
                               replace)
        return ok(synchronization_entity(request, owner_id, doc))

    @router.patch("")
    async def patch_synchronization(request: Request, owner_id: str, principal=Depends(secret_writer)):
        """The seed page's "Update synchronization": secrets merged by key; 200 with the result."""
        return await _update(request, owner_id, principal, replace=False)

    @router.put("")
    async def put_synchronization(request: Request, owner_id: str, principal=Depends(secret_writer)):
        """What the SDK's ``synchronization.put()`` sends: the secret set is replaced."""
        return await _update(request, owner_id, principal, replace=True)

    @router.delete("")
    async def delete_synchronization(request: Request, owner_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, synchronization.delete_synchronization)
        return no_content()

    @router.get("/Ping()")
    @router.get("/ping()")
    async def ping(request: Request, owner_id: str, version: str, principal=Depends(reader)):
        """Beta's Ping() (the reference's CSDL has it in beta only); on v1.0 too, as the seed asks."""
        value = await call_owned(request, principal, root, owner_id, synchronization.ping)
        return ok({"@odata.context": f"{public_base(request)}/{version}/$metadata#Edm.String",
                   "value": value})

    # -- secrets -------------------------------------------------------------------------------

    @router.get("/secrets")
    async def get_secrets(request: Request, owner_id: str, principal=Depends(reader)):
        items = await call_owned(request, principal, root, owner_id, synchronization.masked_secrets)
        return ok({"@odata.context": entity(request, {}, here(owner_id, "/secrets"))["@odata.context"],
                   "value": items})

    @router.get("/secrets/$count")
    async def count_secrets(request: Request, owner_id: str, principal=Depends(reader)):
        count = await call_owned(request, principal, root, owner_id, synchronization.count_secrets)
        return PlainTextResponse(str(count))

    @router.put("/secrets")
    async def put_secrets(request: Request, owner_id: str, principal=Depends(secret_writer)):
        body = await read_json(request, SecretsBody, limit(request))
        await call_owned(request, principal, root, owner_id, lambda ctx, owner: synchronization.merge_secrets(
            ctx, owner, body.pairs))
        return no_content()

    @router.post("/acquireAccessToken")
    async def acquire_access_token(request: Request, owner_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, lambda ctx, owner: None)
        raise NotImplementedYet("acquireAccessToken (OAuth authorization-code flows to targets) is not supported by "
                                "graphsync; store a bearer token with PUT .../synchronization/secrets (SecretToken).")

    # -- jobs ----------------------------------------------------------------------------------

    @router.get("/jobs")
    async def list_jobs(request: Request, owner_id: str, principal=Depends(reader)):
        query = parse_query(request)
        page: Page = await call_owned(request, principal, root, owner_id, jobs.list_jobs, query.offset, query.top)
        return ok(collection(request, page, here(owner_id, "/jobs"), query))

    @router.get("/jobs/$count")
    async def count_jobs(request: Request, owner_id: str, principal=Depends(reader)):
        return PlainTextResponse(str(await call_owned(request, principal, root, owner_id, jobs.count_jobs)))

    @router.post("/jobs")
    async def create_job(request: Request, owner_id: str, principal=Depends(writer)):
        body = await read_json(request, JobCreate, limit(request))
        doc = await call_owned(request, principal, root, owner_id, jobs.create_job, body)
        return ok(entity(request, doc, here(owner_id, "/jobs/$entity")), status=201)

    @router.post("/jobs/validateCredentials")
    async def validate_credentials_collection(request: Request, owner_id: str, principal=Depends(writer)):
        body = await read_json(request, ValidateCredentialsBody, limit(request))
        credentials = await call_owned(request, principal, root, owner_id, jobs.credentials_for_validation, None,
                                       body)
        await jobs.check_credentials(credentials, request.app.state.runtime.target_policy)
        return no_content()

    @router.get("/jobs/{job_id}")
    async def get_job(request: Request, owner_id: str, job_id: str, principal=Depends(reader)):
        query = parse_query(request, collection=False)
        doc = await call_owned(request, principal, root, owner_id, jobs.get_job, job_id)
        return ok(entity(request, doc, here(owner_id, "/jobs/$entity"), query))

    @router.patch("/jobs/{job_id}")
    async def update_job(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        body = await read_json(request, JobUpdate, limit(request))
        await call_owned(request, principal, root, owner_id, jobs.update_job, job_id, body)
        return no_content()

    @router.delete("/jobs/{job_id}")
    async def delete_job(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, jobs.delete_job, job_id)
        return no_content()

    @router.post("/jobs/{job_id}/start")
    async def start_job(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, jobs.start, job_id)
        await wake_engine(request, principal, owner_id, job_id)
        return no_content()

    @router.post("/jobs/{job_id}/pause")
    async def pause_job(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, jobs.pause, job_id)
        return no_content()

    @router.post("/jobs/{job_id}/restart")
    async def restart_job(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        body = await read_json(request, RestartBody, limit(request), required=False)
        await call_owned(request, principal, root, owner_id, jobs.restart, job_id, body)
        await wake_engine(request, principal, owner_id, job_id)
        return no_content()

    @router.post("/jobs/{job_id}/validateCredentials")
    async def validate_credentials(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        body = await read_json(request, ValidateCredentialsBody, limit(request))
        credentials = await call_owned(request, principal, root, owner_id, jobs.credentials_for_validation, job_id,
                                       body)
        await jobs.check_credentials(credentials, request.app.state.runtime.target_policy)
        return no_content()

    @router.post("/jobs/{job_id}/provisionOnDemand")
    async def provision_on_demand(request: Request, owner_id: str, job_id: str, principal=Depends(writer)):
        body = await read_json(request, ProvisionOnDemandBody, limit(request))
        await call_owned(request, principal, root, owner_id, jobs.get_job, job_id)
        runtime = request.app.state.runtime
        result = await run_in_threadpool(provisioning.provision_on_demand, runtime,
                                         provisioning.JobRef(principal.tenant_id, owner_id, job_id), body)
        return ok(entity(request, result, "microsoft.graph.stringKeyStringValuePair"))

    # -- templates -----------------------------------------------------------------------------

    @router.get("/templates")
    async def list_templates(request: Request, owner_id: str, version: str, principal=Depends(reader)):
        query = parse_query(request, expandable=("schema",))
        page = await call_owned(request, principal, root, owner_id, templates.list_templates, query.offset,
                                query.top, "schema" in query.expand)
        return ok(collection(request, page, here(owner_id, "/templates"), query,
                             render=lambda doc: template_for(version, doc)))

    @router.post("/templates")
    async def create_template(request: Request, owner_id: str, principal=Depends(writer)):
        body = await read_json(request, TemplateBody, limit(request))
        doc = await call_owned(request, principal, root, owner_id, templates.create_template, body)
        return ok(entity(request, doc, here(owner_id, "/templates/$entity")), status=201)

    @router.get("/templates/{template_id}")
    async def get_template(request: Request, owner_id: str, template_id: str, version: str,
                           principal=Depends(reader)):
        query = parse_query(request, collection=False, expandable=("schema",))
        doc = await call_owned(request, principal, root, owner_id, templates.get_template, template_id,
                               "schema" in query.expand)
        return ok(entity(request, template_for(version, doc), here(owner_id, "/templates/$entity"), query))

    @router.patch("/templates/{template_id}")
    @router.put("/templates/{template_id}")
    async def replace_template(request: Request, owner_id: str, template_id: str, principal=Depends(writer)):
        body = await read_json(request, TemplateBody, limit(request))
        await call_owned(request, principal, root, owner_id, templates.replace_template, template_id, body)
        return no_content()

    @router.delete("/templates/{template_id}")
    async def delete_template(request: Request, owner_id: str, template_id: str, principal=Depends(writer)):
        await call_owned(request, principal, root, owner_id, templates.delete_template, template_id)
        return no_content()

    return router
