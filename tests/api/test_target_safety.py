"""Where the engine may send requests, and what comes back from there: validateCredentials does
not echo what an arbitrary (internal) URL answers, a new BaseAddress does not inherit the saved
SecretToken, and targets can be kept to (or away from) networks by setting."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from graphsync.config import Settings
from graphsync.connectors.target_policy import TargetNotAllowed, TargetPolicy, parse_networks

SECRET_BODY = "internal-admin-password=hunter2"


class Internal:
    """An HTTP service that answers every request with something it should keep to itself, and
    remembers the Authorization headers it was sent."""

    def __init__(self, status: int = 404, content_type: str = "text/plain", body: str = SECRET_BODY):
        seen = self.authorizations = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                seen.append(self.headers.get("Authorization"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def internal():
    services = []

    def start(**kwargs) -> Internal:
        services.append(Internal(**kwargs))
        return services[-1]
    yield start
    for service in services:
        service.close()


@pytest.fixture
def job(http, scim_app):
    sync = f"/v1.0/servicePrincipals/{scim_app['servicePrincipal']['id']}/synchronization"
    return sync, http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]


@pytest.mark.parametrize("answer", [
    {"status": 404, "content_type": "text/plain"},
    {"status": 500, "content_type": "application/json", "body": '{"detail": "%s"}' % SECRET_BODY},
    {"status": 200, "content_type": "text/html", "body": f"<html>{SECRET_BODY}</html>"},
])
def test_validate_credentials_does_not_echo_what_a_url_answered(http, job, internal, answer):
    sync, job_id = job
    service = internal(**answer)
    response = http.post(f"{sync}/jobs/{job_id}/validateCredentials", json={"credentials": [
        {"key": "BaseAddress", "value": f"{service.url}/admin"}, {"key": "SecretToken", "value": "t"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "CredentialsValidationFailed"
    assert "hunter2" not in response.text and "internal-admin" not in response.text
    if answer["status"] != 200:
        assert f"HTTP {answer['status']}" in error["message"]  # the status is said, nothing of the body


def test_a_scim_errors_reason_is_kept_short_and_clean(http, job, internal):
    sync, job_id = job
    detail = "Token expired\n" + "x" * 5000
    service = internal(status=400, content_type="application/scim+json",
                       body='{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", '
                            '"scimType": "invalidFilter", "detail": %s}' % __import__("json").dumps(detail))
    response = http.post(f"{sync}/jobs/{job_id}/validateCredentials", json={"credentials": [
        {"key": "BaseAddress", "value": service.url}]})
    message = response.json()["error"]["message"]
    assert "HTTP 400 (Bad Request) invalidFilter: Token expired" in message
    assert "\n" not in message and len(message) < 400


def test_a_new_base_address_does_not_inherit_the_saved_token(http, job, internal):
    sync, job_id = job
    first, second = internal(), internal()
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": first.url}, {"key": "SecretToken", "value": "saved-token"}]}).status_code == 204
    # someone points the job elsewhere without sending a token: the saved one is dropped
    assert http.put(f"{sync}/secrets", json={"value": [{"key": "BaseAddress", "value": second.url}]}).status_code == 204
    keys = {s["key"] for s in http.get(sync).json()["secrets"]}
    assert "BaseAddress" in keys and "SecretToken" not in keys
    http.post(f"{sync}/jobs/{job_id}/validateCredentials", json={"useSavedCredentials": True})
    assert second.authorizations == [None]  # the test request went out without a bearer token
    # "*" (keep) does not keep it across a change of address either; sending a token does
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": first.url}, {"key": "SecretToken", "value": "new-token"}]}).status_code == 204
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": second.url}, {"key": "SecretToken", "value": "*"}]}).status_code == 204
    assert "SecretToken" not in {s["key"] for s in http.get(sync).json()["secrets"]}
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": first.url}, {"key": "SecretToken", "value": "third-token"}]}).status_code == 204
    # the same address again (or other keys alone) keeps the token
    assert http.put(f"{sync}/secrets", json={"value": [
        {"key": "BaseAddress", "value": first.url}, {"key": "SyncAll", "value": "true"}]}).status_code == 204
    http.post(f"{sync}/jobs/{job_id}/validateCredentials", json={"useSavedCredentials": True})
    assert first.authorizations == ["Bearer third-token"]


def test_target_networks_are_checked_by_address():
    policy = TargetPolicy(allowed=parse_networks("10.0.0.0/8"), denied=parse_networks("10.9.0.0/16, 169.254.169.254"))
    policy.check("https://10.1.2.3/scim")
    for refused in ("https://10.9.1.1/scim", "http://127.0.0.1:8080/scim", "http://[::1]/scim"):
        with pytest.raises(TargetNotAllowed):
            policy.check(refused)
    with pytest.raises(TargetNotAllowed):  # a host name is judged by what it resolves to
        TargetPolicy(denied=parse_networks("127.0.0.0/8, ::1")).check("http://localhost:9/scim")
    TargetPolicy().check("http://169.254.169.254/")  # nothing set: anywhere
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not an IP address"):
        Settings(target_networks_denied="10.0.0.300/8")


def test_a_denied_network_is_refused_before_any_request(http, job, internal, server, monkeypatch):
    sync, job_id = job
    service = internal()
    monkeypatch.setattr(server.runtime, "target_policy", TargetPolicy(denied=parse_networks("127.0.0.0/8")))
    response = http.post(f"{sync}/jobs/{job_id}/validateCredentials", json={"credentials": [
        {"key": "BaseAddress", "value": service.url}]})
    assert response.status_code == 400 and "not allowed to connect" in response.json()["error"]["message"]
    assert service.authorizations == []  # nothing reached it
