"""The token service: client credentials as Entra does them, JWKS, expiry, external issuers."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from graphsync.api.app import create_app
from graphsync.clock import ManualClock
from graphsync.config import Settings
from graphsync.services import tenants


@pytest.fixture
def client_credentials(server, tenant):
    with server.runtime.db.transaction() as conn:
        client, secret = tenants.create_client(conn, server.runtime.clock.now(), tenant["tenantId"], "reader",
                                               ["Synchronization.Read.All", "Application.Read.All"])
    return client, secret


def token_request(server, tenant_key, **form):
    return httpx.post(f"{server.url}/{tenant_key}/oauth2/v2.0/token", data=form)


def test_client_credentials_token_works_for_graph_calls(server, tenant, client_credentials):
    client, secret = client_credentials
    response = token_request(server, tenant["tenantId"], grant_type="client_credentials", client_id=client.client_id,
                             client_secret=secret, scope="https://graph.microsoft.com/.default")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["tid"] == tenant["tenantId"] and claims["appid"] == client.client_id
    assert set(claims["roles"]) == {"Synchronization.Read.All", "Application.Read.All"}
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{server.url}/v1.0/applications", headers=headers).status_code == 200
    # read-only client: creating an application is forbidden
    denied = httpx.post(f"{server.url}/v1.0/applications", json={"displayName": "x"}, headers=headers)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"


def test_token_endpoint_accepts_the_tenant_domain(server, tenant, client_credentials):
    client, secret = client_credentials
    response = token_request(server, tenant["defaultDomain"], grant_type="client_credentials",
                             client_id=client.client_id, client_secret=secret,
                             scope="https://graph.microsoft.com/.default")
    assert response.status_code == 200


def test_jwks_verifies_issued_tokens(server, tenant):
    keys = httpx.get(f"{server.url}/{tenant['tenantId']}/discovery/v2.0/keys").json()
    token = tenant["accessToken"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys["keys"] if k["kid"] == kid)
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert claims["tid"] == tenant["tenantId"]
    metadata = httpx.get(f"{server.url}/{tenant['tenantId']}/v2.0/.well-known/openid-configuration").json()
    assert metadata["issuer"] == claims["iss"]
    assert metadata["token_endpoint"].endswith(f"/{tenant['tenantId']}/oauth2/v2.0/token")


@pytest.mark.parametrize("form, status, error", [
    ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "invalid_client"),
    ({"grant_type": "password", "client_secret": "x"}, 400, "unsupported_grant_type"),
    ({"grant_type": "client_credentials", "client_secret": "x", "scope": "User.Read"}, 400, "invalid_scope"),
])
def test_token_endpoint_errors(server, tenant, client_credentials, form, status, error):
    client, _ = client_credentials
    form = {"client_id": client.client_id, "scope": "https://graph.microsoft.com/.default", **form}
    response = token_request(server, tenant["tenantId"], **form)
    assert response.status_code == status and response.json()["error"] == error


def test_oversized_token_request_is_413_without_reading_it_all(server, tenant):
    """The token endpoint needs no token: it must not buffer whatever an anonymous client sends."""
    url = f"{server.url}/{tenant['tenantId']}/oauth2/v2.0/token"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    declared = httpx.post(url, content=b"a=" + b"x" * (65 * 1024), headers=headers)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"] == "invalid_request" and "limit" in declared.json()["error_description"]

    sent = 0

    def endless():  # chunked, no Content-Length: only counting can stop it
        nonlocal sent
        while sent < 256 * 1024 * 1024:
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    try:
        streamed = httpx.post(url, content=endless(), headers=headers, timeout=30)
    except httpx.TransportError:  # the server may hang up while the client is still sending
        streamed = None
    assert sent < 256 * 1024 * 1024  # it stopped reading long before the end
    if streamed is not None:
        assert streamed.status_code == 413 and streamed.json()["error"] == "invalid_request"


def test_unknown_tenant_and_other_tenants_client(server, tenant, client_credentials):
    client, secret = client_credentials
    form = dict(grant_type="client_credentials", client_id=client.client_id, client_secret=secret,
                scope="https://graph.microsoft.com/.default")
    assert token_request(server, str(uuid.uuid4()), **form).json()["error"] == "invalid_tenant"
    other = httpx.post(f"{server.url}/graphsync/tenants").json()
    assert token_request(server, other["tenantId"], **form).status_code == 401


def test_expired_tokens_are_refused(tmp_path):
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=timezone.utc))
    app = create_app(Settings(data_dir=tmp_path, database_url="memory", emulator=True), clock=clock)
    with TestClient(app) as client:
        created = client.post("/graphsync/tenants").json()
        headers = {"Authorization": f"Bearer {created['accessToken']}"}
        assert client.get("/v1.0/applications", headers=headers).status_code == 200
        clock.advance(timedelta(hours=2))
        response = client.get("/v1.0/applications", headers=headers)
        assert response.status_code == 401
        assert "expired" in response.json()["error"]["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_tokens_not_yet_valid_are_refused(server, tenant):
    """A token whose nbf lies ahead (beyond 5 minutes of clock skew) is refused; issued tokens carry nbf."""
    runtime = server.runtime
    now = runtime.clock.now()
    issued = jwt.decode(tenant["accessToken"], options={"verify_signature": False})
    assert issued["nbf"] <= issued["iat"] <= now.timestamp() < issued["exp"]

    def call(token: str) -> httpx.Response:
        return httpx.get(f"{server.url}/v1.0/applications", headers={"Authorization": f"Bearer {token}"})

    later = runtime.tokens.issue(tenant["tenantId"], "pytest", ["Application.Read.All"], now + timedelta(hours=1))
    refused = call(later)
    assert refused.status_code == 401, refused.text
    assert "not yet valid" in refused.json()["error"]["message"]
    assert refused.headers["www-authenticate"].startswith("Bearer")
    skewed = runtime.tokens.issue(tenant["tenantId"], "pytest", ["Application.Read.All"], now + timedelta(minutes=2))
    assert call(skewed).status_code == 200
    claims = jwt.decode(skewed, options={"verify_signature": False})
    for nbf in ("later", None, 1e400):
        odd = jwt.encode(claims | {"nbf": nbf}, runtime.tokens.keys.private_key, algorithm="RS256",
                         headers={"kid": runtime.tokens.keys.kid})
        assert call(odd).status_code == 401


class _JwksServer:
    """A stand-in external OpenID Connect issuer: a real HTTP server publishing a JWKS."""

    def __init__(self, jwks: dict):
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/keys"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_tokens_of_an_external_issuer_are_accepted(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "ext-1", "use": "sig"}
    issuer_server = _JwksServer({"keys": [jwk]})
    try:
        issuer = "https://login.example.com/tenant/v2.0"
        settings = Settings(data_dir=tmp_path, database_url="memory", oidc_issuer=issuer,
                            oidc_audience="api://graphsync", oidc_jwks_url=issuer_server.url)
        app = create_app(settings)
        now = datetime.now(timezone.utc)
        claims = {"iss": issuer, "aud": "api://graphsync", "tid": settings.default_tenant_id, "appid": "ext-app",
                  "roles": ["Application.Read.All"], "iat": int(now.timestamp()),
                  "exp": int((now + timedelta(hours=1)).timestamp())}
        good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "ext-1"})
        wrong_audience = jwt.encode(claims | {"aud": "other"}, key, algorithm="RS256", headers={"kid": "ext-1"})
        skewed = jwt.encode(claims | {"nbf": int((now + timedelta(minutes=2)).timestamp())}, key,
                            algorithm="RS256", headers={"kid": "ext-1"})
        not_yet = jwt.encode(claims | {"nbf": int((now + timedelta(minutes=30)).timestamp())}, key,
                             algorithm="RS256", headers={"kid": "ext-1"})
        with TestClient(app) as client:
            assert client.get("/v1.0/applications", headers={"Authorization": f"Bearer {good}"}).status_code == 200
            refused = client.get("/v1.0/applications", headers={"Authorization": f"Bearer {wrong_audience}"})
            assert refused.status_code == 401
            assert client.get("/v1.0/applications", headers={"Authorization": f"Bearer {skewed}"}).status_code == 200
            early = client.get("/v1.0/applications", headers={"Authorization": f"Bearer {not_yet}"})
            assert early.status_code == 401 and "not yet valid" in early.json()["error"]["message"]
    finally:
        issuer_server.close()
