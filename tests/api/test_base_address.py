"""A malformed BaseAddress (found by fuzzing) is a 400 that says what is wrong, wherever it
arrives: saving secrets, validateCredentials with given or saved credentials, and a cycle of a job
whose address was saved before addresses were checked (each was a 500 or an InternalError)."""
from __future__ import annotations

import pytest

from graphsync.connectors.addresses import base_address_problem
from graphsync.models import SecretPair
from graphsync.services import synchronization
from graphsync.testing import free_port
from tests.api.graph_asserts import check_graph_error
from tests.waiting import eventually

INVALID = {  # test id: address, with what the HTTP clients raised on it before
    "empty-label": "http://a..b/",  # UnicodeError: idna label empty
    "label-too-long": "http://" + "a" * 70 + ".com/",  # UnicodeError: label too long
    "port-too-big": "http://127.0.0.1:99999/",  # ValueError: Port out of range
    "port-negative": "http://x:-1/",
    "ipv6-unclosed": "http://[::1",  # ValueError: Invalid IPv6 URL
    "ipv6-not-an-address": "http://[zz]/",
    "user-and-password": "http://user:pass@127.0.0.1:9/",  # aiohttp: AUTHORIZATION header and credentials in URL
    "empty-a-label": "http://xn--/",  # idna.IDNAError: Malformed A-label
    "100k-characters": "https://scim.example.com/" + "a" * 100_000,  # httpx.InvalidURL: URL too long
    "not-http": "ftp://scim.example.com/scim",
    "relative": "scim.example.com/scim",
    "whitespace": "https://scim.example.com/sc im",
}
VALID = ["https://example.com/scim", "http://[::1]:8080/scim", "https://bücher.example/scim",
         "http://127.0.0.1:8080/scim/v2"]
BASELINE = [{"key": "BaseAddress", "value": "https://old.example/scim"}, {"key": "SecretToken", "value": "old-token"}]


@pytest.fixture
def sync(http, scim_app) -> tuple[str, str]:
    """A service principal's synchronization path with saved secrets, and a job under it."""
    path = f"/v1.0/servicePrincipals/{scim_app['servicePrincipal']['id']}/synchronization"
    assert http.put(f"{path}/secrets", json={"value": BASELINE}).status_code == 204
    return path, http.post(f"{path}/jobs", json={"templateId": "scim"}).json()["id"]


def save_unchecked(server, tenant: dict, scim_app: dict, monkeypatch, address: str) -> None:
    """Stores ``address`` as a version without the check would have: through the service layer,
    with the check switched off while it writes (the API refuses it now)."""
    with monkeypatch.context() as patch, server.runtime.unit(tenant["tenantId"]) as ctx:
        patch.setattr(synchronization, "check_base_address", lambda address: None)
        owner = synchronization.resolve_owner(ctx, "servicePrincipals", scim_app["servicePrincipal"]["id"])
        synchronization.merge_secrets(ctx, owner, [SecretPair(key="BaseAddress", value=address)])


def credentials(address: str) -> list[dict]:
    return [{"key": "BaseAddress", "value": address}, {"key": "SecretToken", "value": "x"}]


def check_refused(response, address: str) -> None:
    """A 400 Graph error whose message is what the check says about ``address``."""
    error = check_graph_error(response, 400, "BadRequest")
    assert error["message"] == base_address_problem(address) and "BaseAddress" in error["message"]


@pytest.mark.parametrize("address", INVALID.values(), ids=INVALID.keys())
def test_saving_an_invalid_base_address_is_a_400_and_saves_nothing(http, sync, address):
    path, _ = sync
    before = http.get(f"{path}/secrets").json()
    pairs = credentials(address) + [{"key": "SyncAll", "value": "true"}]
    for method, where, body in (("PUT", "/secrets", {"value": pairs}), ("PUT", "", {"secrets": pairs}),
                                ("PATCH", "", {"secrets": pairs})):
        check_refused(http.request(method, path + where, json=body), address)
    assert http.get(f"{path}/secrets").json() == before


@pytest.mark.parametrize("address", INVALID.values(), ids=INVALID.keys())
def test_validating_invalid_credentials_is_a_400(http, sync, address):
    path, job = sync
    for route in (f"{path}/jobs/validateCredentials", f"{path}/jobs/{job}/validateCredentials"):
        check_refused(http.post(route, json={"templateId": "scim", "credentials": credentials(address)}), address)


@pytest.mark.parametrize("address", INVALID.values(), ids=INVALID.keys())
def test_an_invalid_saved_base_address_is_a_400_and_fails_the_cycle_clearly(
        http, sync, server, tenant, scim_app, monkeypatch, address):
    path, job = sync
    save_unchecked(server, tenant, scim_app, monkeypatch, address)
    for route, body in ((f"{path}/jobs/{job}/validateCredentials", {"useSavedCredentials": True}),
                        (f"{path}/jobs/validateCredentials", {"useSavedCredentials": True, "templateId": "scim"})):
        check_refused(http.post(route, json=body), address)

    assert http.post(f"{path}/jobs/{job}/start").status_code == 204
    execution = eventually(lambda: http.get(f"{path}/jobs/{job}").json()["status"]["lastExecution"])
    assert execution["error"]["code"] == "CredentialsRejected"  # not an InternalError
    assert execution["error"]["message"].startswith(base_address_problem(address))


@pytest.mark.parametrize("address", VALID)
def test_valid_base_addresses_are_saved(http, sync, address):
    path, _ = sync
    assert http.put(f"{path}/secrets", json={"value": credentials(address)}).status_code == 204
    assert {"key": "BaseAddress", "value": address} in http.get(f"{path}/secrets").json()["value"]
    assert http.patch(path, json={"secrets": [{"key": "BaseAddress", "value": ""}]}).status_code == 200  # deletes
    assert "BaseAddress" not in {s["key"] for s in http.get(f"{path}/secrets").json()["value"]}


def test_valid_base_addresses_reach_the_target(http, sync, scim_server):
    path, job = sync
    route = f"{path}/jobs/{job}/validateCredentials"
    working = [{"key": "BaseAddress", "value": scim_server.url}, {"key": "SecretToken", "value": scim_server.token}]
    assert http.post(route, json={"credentials": working}).status_code == 204
    nobody = http.post(route, json={"credentials": credentials(f"http://[::1]:{free_port()}/scim")})
    error = check_graph_error(nobody, 400, "CredentialsValidationFailed")  # checked, then tried: nothing listens
    assert "not reachable" in error["message"]


@pytest.mark.parametrize("address, problem", [
    ("http://a..b/", "1 to 63 characters"),
    ("http://" + "a" * 64 + ".example/", "1 to 63 characters"),
    ("http://" + ".".join(["a" * 63] * 4) + "/", "longer than 253"),
    ("http://127.0.0.1:99999/", "1 to 65535"), ("http://x.example:0/", "1 to 65535"),
    ("http://x:-1/", "1 to 65535"), ("http://x.example:８０/", "1 to 65535"),
    ("http://[::1", "IPv6"), ("http://[zz]/", "IPv6"), ("http://[127.0.0.1]/", "IPv6"),
    ("http://user:pass@127.0.0.1:9/", "SecretToken"), ("http://token@scim.example/", "SecretToken"),
    ("http://xn--/", "xn--"), ("http://xn--zz-.example/", "xn--"),
    ("http://bü_x.example/", "internationalised domain name"), ("http://a%41.example/", "letters, digits"),
    ("http://999.1.1.1/", "neither a valid IPv4"),
    ("https://x.example/" + "a" * 2048, "longer than 2048"),
    ("https://x.example/\tscim", "whitespace"), ("https://x.example/\x00", "control"),
    ("https://x.example/\u00a0", "whitespace"), ("https://sc\u200bim.example/", "invisible"),
    ("https://a\ufe0f.example/", "IDNA ignores"),
    ("ftp://x.example/", "http:// or https://"), ("//x.example/scim", "http:// or https://"),
    ("https:///scim", "http:// or https://"), ("*", "http:// or https://"),
])
def test_what_is_wrong_with_an_address_is_said(address, problem):
    assert problem in (base_address_problem(address) or "")


@pytest.mark.parametrize("address", VALID + [
    "HTTPS://SCIM.Example.COM:443/scim/v2?aadOptscim062020", "http://localhost:9/", "http://scim_app:8080/scim",
    "https://scim.example.com./scim", "http://[2001:db8::1]/", "http://10.0.0.1/", "https://xn--bcher-kva.example/",
    "https://" + ".".join(["a" * 63] * 3) + ".example/", "https://x.example/" + "a" * 2000,
])
def test_valid_addresses_have_no_problem(address):
    assert base_address_problem(address) is None
