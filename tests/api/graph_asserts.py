"""Assertions on Graph's response conventions, shared by the API tests."""
from __future__ import annotations

import re

import httpx

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def describe(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path} -> {response.status_code} {response.text[:500]}"


def check_request_ids(response: httpx.Response, client_request_id: str | None = None) -> str:
    """The response carries a request-id, and echoes the client-request-id that was sent."""
    request_id = response.headers.get("request-id", "")
    assert UUID_RE.match(request_id), f"no request-id header: {describe(response)}"
    if client_request_id:
        assert response.headers.get("client-request-id") == client_request_id, describe(response)
    return request_id


def check_graph_error(response: httpx.Response, status: int, code: str | None = None,
                      client_request_id: str | None = None) -> dict:
    """The response is ``status`` with a Graph error body and request ids; returns the error."""
    assert response.status_code == status, describe(response)
    request_id = check_request_ids(response, client_request_id)
    assert response.headers["content-type"].startswith("application/json"), describe(response)
    body = response.json()
    assert list(body) == ["error"], describe(response)
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], describe(response)
    assert isinstance(error.get("message"), str) and error["message"], describe(response)
    if code:
        assert error["code"] == code, describe(response)
    inner = error["innerError"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", inner["date"]), describe(response)
    assert inner["request-id"] == request_id, describe(response)
    assert inner["client-request-id"] == (client_request_id or request_id), describe(response)
    return error
