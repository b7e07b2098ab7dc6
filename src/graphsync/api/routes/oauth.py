"""The token service's HTTP face: Entra-style client-credentials token endpoint, JWKS, metadata."""
from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from graphsync.services import tenants

router = APIRouter(tags=["oauth2"])


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


# A client-credentials form is a few hundred bytes; GRAPHSYNC_MAX_BODY_BYTES lowers this further.
MAX_FORM_BYTES = 64 * 1024


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is known to be longer than ``limit`` (by its Content-Length, or
    while it streams in): an unauthenticated endpoint must not buffer whatever it is sent."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{tenant}/oauth2/v2.0/token")
async def token(request: Request, tenant: str):
    runtime = request.app.state.runtime
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return oauth_error(400, "invalid_request", "The request body must be application/x-www-form-urlencoded.")
    limit = min(runtime.settings.max_body_bytes, MAX_FORM_BYTES)
    raw = await read_limited(request, limit)
    if raw is None:  # refused as soon as it is known to be too large: nothing beyond the limit is kept
        return oauth_error(413, "invalid_request", f"The request body is larger than the limit of {limit} bytes.",
                           headers={"Connection": "close"})  # else the server reads (and drops) the rest
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return oauth_error(400, "unsupported_grant_type", "Only the client_credentials grant is supported.")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        return oauth_error(400, "invalid_request", "client_id and client_secret are required.")
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        return oauth_error(400, "invalid_scope", "The scope must be '<resource>/.default', e.g. "
                                                 "'https://graph.microsoft.com/.default'.")

    def authenticate():
        with runtime.db.transaction() as conn:
            found = tenants.get_tenant(conn, tenant)
            return found, (tenants.authenticate_client(conn, found.id, client_id, secret) if found else None)

    found, client = await run_in_threadpool(authenticate)
    if found is None:
        return oauth_error(400, "invalid_tenant", f"Tenant '{tenant}' not found.")
    if client is None:
        return oauth_error(401, "invalid_client", "Invalid client secret or unknown client for this tenant.")
    access_token = runtime.tokens.issue(found.id, client.client_id, client.roles, runtime.clock.now(),
                                        client.display_name)
    lifetime = runtime.settings.token_lifetime_seconds
    return JSONResponse({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                         "access_token": access_token})


@router.get("/{tenant}/discovery/v2.0/keys")
@router.get("/common/discovery/v2.0/keys")
async def jwks(request: Request):
    return JSONResponse(request.app.state.runtime.tokens.keys.jwks())


@router.get("/{tenant}/v2.0/.well-known/openid-configuration")
async def openid_configuration(request: Request, tenant: str):
    runtime = request.app.state.runtime
    base = runtime.settings.base_url
    return JSONResponse({
        "issuer": runtime.tokens.issuer(tenant),
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["pairwise"],
        "tenant_region_scope": "graphsync",
    })
