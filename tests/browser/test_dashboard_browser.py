"""The dashboard in a real browser (headless Chromium): signing in, the skip link, the job list
with hundreds of jobs, a running cycle and failures that stay visible, configuring a job
(connection with Test connection, schedule, settings, mappings, scoping filter, expression
tester), provision on demand by name, the logs page (person and application filters, totals,
order, CSV and JSON download), axe-core at 1280 and 390 px in light and dark, and no CSP
violation or script error anywhere. Screenshots land in the `screenshots` folder (see conftest).

Waiting is done by the browser (locators wait for what they look for); nothing sleeps."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from graphsync.testing import BackgroundServer, InMemoryScimTarget, free_port
from tests.browser.seed import API_APP_TEMPLATE, SCIM_APP_TEMPLATE, instantiate, refuse_fail_users
from tests.waiting import eventually

# The dashboard is a client of the API: one storage backend is enough for it.
pytestmark = pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True, scope="session")

TOKEN_KEY = "graphsync.dashboard.token"
AXE = Axe()
WAIT_MS = 15000
expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def open_page(browser, seeded):
    """open_page(width=1280, scheme="light", token=…) → a page signed in (token in sessionStorage)
    whose script errors and CSP refusals are collected and checked at the end of the test."""
    contexts, problems = [], []

    def open_(path: str = "/dashboard", *, width: int = 1280, scheme: str = "light", token: str | None = "seeded"):
        context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme,
                                      accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        if token:
            value = seeded["tenant"]["accessToken"] if token == "seeded" else token
            context.add_init_script(f"sessionStorage.setItem({json.dumps(TOKEN_KEY)}, {json.dumps(value)})")
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on("console", lambda message: problems.append(f"console: {message.text}")
                if message.type == "error" and "Refused to" in message.text else None)
        contexts.append(context)
        page.goto(f"{seeded['url']}{path}")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, problems  # no CSP violation, no uncaught error


def axe_clean(page, where: str) -> None:
    """axe-core finds no serious or critical violation on what the page shows now."""
    violations = AXE.run(page).response["violations"]
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in bad)


def fits(page, width: int, where: str) -> None:
    """Nothing makes the page scroll sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, where


def shoot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def job_of(http: httpx.Client, name: str) -> tuple[str, str]:
    sp = http.get("/v1.0/servicePrincipals", params={"$filter": f"displayName eq '{name}'"}).json()["value"][0]["id"]
    return sp, http.get(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs").json()["value"][0]["id"]


# -- signing in, the skip link ------------------------------------------------------------------

def test_sign_in_by_pasting_a_token_then_the_skip_link_moves_focus_without_leaving_the_page(open_page, seeded):
    page = open_page(token=None)
    expect(page.get_by_role("heading", name="Sign in to graphsync")).to_be_visible()
    page.get_by_label("Bearer token").fill(seeded["tenant"]["accessToken"])
    page.get_by_role("button", name="Use this token").click()
    expect(page.get_by_role("heading", name="Provisioning jobs")).to_be_visible()
    expect(page.locator(".job-card").first).to_be_visible()

    page.goto(f"{seeded['url']}/dashboard#/logs")
    page.reload()  # a fresh load of the logs page: the first Tab reaches the skip link
    expect(page.get_by_role("heading", name="Provisioning logs")).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0  # visible when focused
    page.keyboard.press("Enter")
    expect(page.locator("main#view")).to_be_focused()
    assert page.evaluate("window.location.hash") == "#/logs"  # still on the logs page
    expect(page.get_by_role("heading", name="Provisioning logs")).to_be_visible()


# -- the job list ---------------------------------------------------------------------------------

def test_the_job_list_searches_filters_and_pages_hundreds_of_jobs(open_page, seeded, screenshots):
    total = 220 + 2
    for width in (1280, 390):
        page = open_page(width=width)
        expect(page.get_by_role("status").filter(has_text=f"{total} of {total} jobs")).to_be_visible()
        expect(page.locator(".job-card")).to_have_count(24)
        pager = page.get_by_role("navigation", name="Pages of jobs", exact=True)
        expect(pager).to_contain_text("Page 1 of 10")
        if width == 1280:
            pager.get_by_role("button", name="Next").click()
            expect(pager).to_contain_text("Page 2 of 10")
            assert "page=2" in page.evaluate("window.location.hash")
        axe_clean(page, f"overview at {width} px")
        fits(page, width, f"overview at {width} px")
        shoot(page, screenshots, f"overview-{width}")

    page.get_by_label("Search").fill("fabrikam app 17")  # words start names: not 017, nor ids holding "17"
    expect(page.locator(".job-card")).to_have_count(10)  # 170–179
    expect(pager).to_be_hidden()  # one page: no pager
    page.get_by_label("Search").fill("")
    page.get_by_label("Show").select_option("failing")
    cards = page.locator(".job-card")
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Contoso SCIM")).to_contain_text("1 object failed to date")
    expect(cards.filter(has_text="Northwind HR")).to_contain_text("1 record failed to date")
    page.get_by_role("button", name=re.compile("not started")).click()
    expect(page.get_by_label("Show")).to_have_value("notStarted")
    expect(page.get_by_role("status").filter(has_text=f"220 of {total} jobs")).to_be_visible()


# -- a running cycle, and failures that stay ------------------------------------------------------

class GatedTarget:
    """A SCIM app that refuses fail.* users and holds the creation of the `gated` users until
    released: a cycle that is running for as long as the test needs. Held requests wait off the
    target's event loop, so the others (the first page's) are answered meanwhile."""

    def __init__(self):
        self.gate = threading.Event()
        self.gated: set[str] = set()
        self.app = InMemoryScimTarget(fail=refuse_fail_users, token="gated-token")
        self.server = BackgroundServer(self.asgi, free_port(), "gated SCIM target").start()

    async def asgi(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/Users"):
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        if json.loads(body or b"{}").get("userName") in self.gated:
            await asyncio.to_thread(self.gate.wait, 60)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.app(scope, replay, send)

    def stop(self):
        self.gate.set()
        self.server.stop()


def test_a_running_cycle_shows_live_counts_and_failures_stay_visible(open_page, server, screenshots):
    tenant = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "running"}).json()
    target = GatedTarget()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        def user(n: int) -> None:
            name = "fail.fay" if n == 0 else f"user{n:03d}"
            assert http.post("/v1.0/users", json={
                "accountEnabled": True, "displayName": f"User {n:03d}", "mailNickname": name.replace(".", ""),
                "userPrincipalName": f"{name}@contoso.test", "passwordProfile": {"password": "Passw0rd!Passw0rd!"}},
            ).status_code == 201
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(user, range(230)))
        # the cycle reads users in pages of 200 in id order: the first page goes through, the rest waits
        people = sorted(http.get("/v1.0/users", params={"$top": "999", "$select": "id,userPrincipalName"}).json()["value"],
                        key=lambda u: u["id"])
        target.gated = {u["userPrincipalName"] for u in people[200:]}
        sp = instantiate(http, SCIM_APP_TEMPLATE, "Gated SCIM")
        sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
        job = http.post(f"{sync}/jobs", json={"templateId": "scim"}).json()["id"]
        assert http.put(f"{sync}/secrets", json={"value": [
            {"key": "BaseAddress", "value": target.server.url}, {"key": "SecretToken", "value": "gated-token"},
            {"key": "SyncAll", "value": "true"}]}).status_code == 204
        assert http.patch(f"{sync}/jobs/{job}", json={"schedule": {"interval": "PT1H"}}).status_code == 204
        try:
            assert http.post(f"{sync}/jobs/{job}/start").status_code == 204
            eventually(lambda: http.get(f"{sync}/jobs/{job}").json()["status"]["progress"])  # the first page is done

            page = open_page(f"/dashboard#/job/{sp}/{job}", token=tenant["accessToken"])
            status = page.locator("section:has(#h-status)")
            expect(status.get_by_text("Cycle running")).to_be_visible()
            expect(status.locator(".progress-label")).to_contain_text(re.compile(r"\d+ of \d+ objects"))
            expect(status.locator("progress")).to_be_visible()
            expect(status.get_by_text("No cycle has run yet.")).to_be_visible()
            shoot(page, screenshots, "job-running-1280")
            page.goto(f"{server.url}/dashboard#/")
            expect(page.get_by_role("button", name=re.compile("1 running now"))).to_be_visible()
            expect(page.locator(".job-card").filter(has_text="Gated SCIM")).to_contain_text("Cycle running")
        finally:
            target.gate.set()
        first = eventually(lambda: http.get(f"{sync}/jobs/{job}").json()["status"]["lastExecution"])
        assert first["countEscrowed"] == 1

        page.goto(f"{server.url}/dashboard#/job/{sp}/{job}")
        status = page.locator("section:has(#h-status)")
        expect(status.get_by_text("Entry-level errors")).to_be_visible()
        expect(status.get_by_text("Cycle running")).to_have_count(0)
        failed = status.locator(".counter").filter(has_text="Failed")
        expect(failed).to_contain_text("1")

        # a later cycle succeeds (the failed user is not due for a retry yet): the failure stays
        assert http.post(f"{sync}/jobs/{job}/start").status_code == 204
        eventually(lambda: http.get(f"{sync}/jobs/{job}").json()["status"]["lastExecution"]["activityIdentifier"]
                   != first["activityIdentifier"])
        page.reload()
        expect(status.locator(".execution-head")).to_contain_text("Succeeded")
        expect(failed).to_contain_text("1")
        page.goto(f"{server.url}/dashboard#/")
        expect(page.locator(".job-card").filter(has_text="Gated SCIM")).to_contain_text("1 object failed to date")
        http.post(f"{sync}/jobs/{job}/pause")
    target.stop()


def test_inbound_counts_cover_every_batch_not_only_the_last(open_page, server):
    tenant = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "inbound counts"}).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        check_inbound_counts(open_page, http, tenant["accessToken"])


def check_inbound_counts(open_page, http: httpx.Client, token: str) -> None:
    sp = instantiate(http, API_APP_TEMPLATE, "Tailspin HR")
    sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
    job = http.post(f"{sync}/jobs", json={"templateId": "API2AAD"}).json()["id"]
    assert http.post(f"{sync}/jobs/{job}/start").status_code == 204
    core = "urn:ietf:params:scim:schemas:core:2.0:User"

    def upload(records: list[dict]) -> None:
        before = (http.get(f"{sync}/jobs/{job}").json()["status"].get("lastExecution") or {}).get("timeEnded")
        response = http.post(f"{sync}/jobs/{job}/bulkUpload", headers={"Content-Type": "application/scim+json"},
                             content=json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                                 "Operations": [{"method": "POST", "path": "/Users",
                                                                 "bulkId": r["externalId"], "data": r}
                                                                for r in records]}))
        assert response.status_code == 202, response.text
        eventually(lambda: (http.get(f"{sync}/jobs/{job}").json()["status"].get("lastExecution") or {})
                   .get("timeEnded") not in (None, before))

    def worker(n: int) -> dict:
        return {"schemas": [core], "externalId": f"T{n}", "userName": f"tailspin{n}@contoso.test",
                "displayName": f"Tailspin {n}", "active": True}

    upload([worker(1), worker(2), worker(3), {"schemas": [core], "externalId": "T9", "active": True}])  # T9: no login
    upload([worker(4), worker(5)])  # the last batch: two records, both good

    page = open_page(f"/dashboard#/job/{sp}/{job}", token=token)
    to_date = page.get_by_role("list", name="Log entries of this job to date, by status")
    expect(page.get_by_role("heading", name="All records to date")).to_be_visible()
    def value(where, label: str):
        return where.locator("li").filter(has_text=label).locator(".counter-value")

    expect(value(to_date, "Records processed")).to_have_text("6")
    expect(value(to_date, "Applied")).to_have_text("5")
    expect(value(to_date, "Failed")).to_have_text("1")
    last = page.get_by_role("list", name="Counters of the last cycle")  # the last batch alone
    expect(value(last, "Records received")).to_have_text("2")
    expect(value(last, "Failed")).to_have_text("0")
    # the batch before the last one failed a record: its failure is still counted, and links to it
    failed = to_date.locator(".counter").filter(has_text="Failed").get_by_role("link")
    failed.click()
    expect(page.get_by_role("heading", name="Provisioning logs", level=1)).to_be_visible()
    expect(page.locator("tr.log-row")).to_have_count(1)
    expect(page.locator("tr.log-row")).to_contain_text("Failure")


# -- configuring a job ------------------------------------------------------------------------------

def test_configure_connection_schedule_and_settings(open_page, seeded, scim_server, screenshots):
    http = seeded["http"]
    sp, job = job_of(http, "Fabrikam app 001")
    page = open_page(f"/dashboard#/job/{sp}/{job}")
    config = page.locator("section:has(#h-config)")
    expect(config.get_by_label("Tenant URL (BaseAddress)")).to_be_visible()

    config.get_by_label("Tenant URL (BaseAddress)").fill(scim_server.url)
    config.get_by_label("Secret token").fill("wrong-token")
    config.get_by_role("button", name="Test connection").click()
    expect(config.get_by_role("alert")).to_contain_text("Validating the credentials failed")
    config.get_by_label("Secret token").fill(scim_server.token)
    config.get_by_role("button", name="Test connection").click()
    expect(config.get_by_text("the credentials work")).to_be_visible()
    config.get_by_role("button", name="Save connection").click()
    expect(config.get_by_text("Saved.")).to_be_visible()
    expect(config.get_by_label("Secret token")).to_have_attribute("placeholder", re.compile("saved"))
    config.get_by_role("button", name="Test connection").click()  # now with the saved credentials
    expect(config.get_by_text("(the saved ones)")).to_be_visible()

    config.get_by_label("Run a cycle every").fill("15")
    config.get_by_label("Unit of the interval").select_option("M")
    config.get_by_role("button", name="Save schedule").click()
    expect(config.get_by_text("Saved: every 15 min.")).to_be_visible()

    config.get_by_label("Sync all users and groups").check()
    config.get_by_label("Hold deletions back above a threshold").check()
    config.get_by_label("Deletion threshold (objects a cycle may delete)").fill("25")
    config.get_by_label("Send an email when a failure occurs").check()
    config.get_by_label("Recipients").fill("ops@contoso.test")
    config.get_by_role("button", name="Save settings").click()
    expect(config.get_by_text("Saved.").last).to_be_visible()
    shoot(page, screenshots, "job-config-1280")

    sync = f"/v1.0/servicePrincipals/{sp}/synchronization"
    secrets = {p["key"]: p["value"] for p in http.get(f"{sync}/secrets").json()["value"]}
    assert secrets["BaseAddress"] == scim_server.url and secrets["SecretToken"] == "*"
    assert secrets["SyncAll"] == "true"
    assert json.loads(secrets["SyncNotificationSettings"]) == {
        "Enabled": True, "Recipients": "ops@contoso.test", "DeleteThresholdEnabled": True, "DeleteThresholdValue": 25}
    assert http.get(f"{sync}/jobs/{job}").json()["schedule"]["interval"] == "PT15M"


def test_edit_mappings_and_scoping_filter_with_the_expression_tester(open_page, seeded, screenshots):
    http = seeded["http"]
    sp, job = job_of(http, "Fabrikam app 002")
    page = open_page(f"/dashboard#/job/{sp}/{job}")
    users = page.locator("details.mapping").filter(has_text="Provision Microsoft Entra ID Users")
    row = users.locator("li.am-row").filter(has=page.locator("input[id$='-tgt'][value='displayName']"))
    expression = row.get_by_label("Source expression")
    expect(expression).to_have_value("[displayName]")

    expression.fill('Join(" ", [givenName], [surname])')
    row.get_by_role("button", name="Test").click()
    tester = row.locator(".tester")
    values = tester.get_by_label("Test values (attribute=value, one a line)")
    expect(values).to_have_value("givenName=\nsurname=")
    tester.get_by_label("Fill from a user (optional)").fill("Alice")
    tester.get_by_label(re.compile("Alice Adams")).check()
    expect(values).to_have_value("givenName=Alice\nsurname=Adams")
    tester.get_by_role("button", name="Run test").click()
    expect(tester.locator(".result-value")).to_have_text("Alice Adams")

    users.get_by_role("button", name="+ Add clause group").click()
    clause = users.locator("li.clause").first
    expect(clause.get_by_label("Attribute")).to_be_focused()
    clause.get_by_label("Attribute").fill("department")
    clause.get_by_label("Operator").select_option("EQUALS")
    clause.get_by_label("Values (one a line)").fill("Sales")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    shoot(page, screenshots, "job-mappings-1280")

    # a typo is reported at its row, and nothing is saved
    title_row = users.locator("li.am-row").filter(has=page.locator("input[id$='-tgt'][value='title']"))
    title_row.get_by_label("Source expression").fill("Join(")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.locator("section:has(#h-map)").get_by_role("alert")).to_contain_text("does not parse")
    expect(title_row.get_by_label("Source expression")).to_have_attribute("aria-invalid", "true")
    title_row.get_by_label("Source expression").fill("[jobTitle]")
    page.get_by_role("button", name="Save mappings").click()
    expect(page.get_by_text("Saved. The next cycle is an initial cycle")).to_be_visible()

    schema = http.get(f"/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema").json()
    mapping = next(m for r in schema["synchronizationRules"] for m in r["objectMappings"] if m["sourceObjectName"] == "User")
    display = next(a for a in mapping["attributeMappings"] if a["targetAttributeName"] == "displayName")
    assert display["source"]["expression"] == 'Join(" ", [givenName], [surname])' and display["source"]["type"] == "Function"
    assert mapping["scope"]["groups"] == [{"clauses": [{"operatorName": "EQUALS", "sourceOperandName": "department",
                                                        "targetOperand": {"values": ["Sales"]}}], "name": None}]


def test_provision_on_demand_finds_the_person_by_name(open_page, seeded):
    page = open_page(f"/dashboard#/job/{seeded['sp']}/{seeded['job']}")
    actions = page.locator("section:has(#h-actions)")
    expect(actions.get_by_role("button", name="Provision now")).to_be_disabled()
    actions.get_by_label("Find the user or group").fill("car")
    actions.locator("#pod-search-matches").get_by_label(re.compile("Carol Chen")).check()
    expect(actions.locator(".selection")).to_contain_text("Selected: Carol Chen")
    actions.get_by_role("button", name="Provision now").click()
    result = actions.locator(".pod-result")
    # Carol was provisioned by the seeded cycle: nothing to change, and the steps say why
    expect(result.locator("p").first).to_contain_text(re.compile(r"(Success|Skipped) Carol Chen"))
    expect(result.locator(".steps li").first).to_be_visible()


# -- the provisioning logs ----------------------------------------------------------------------------

def test_logs_filter_by_person_and_application_with_totals_order_and_downloads(open_page, seeded, screenshots):
    everything = seeded["http"].get("/v1.0/auditLogs/provisioning", params={"$count": "true"}).json()["@odata.count"]
    assert everything >= 8  # the seeded cycles' (other tests may add some, as provision on demand does)
    page = open_page("/dashboard#/logs")
    totals = page.get_by_role("list", name="Entries by status")
    expect(totals.get_by_role("button", name=re.compile("Failure"))).to_contain_text("2")
    page.get_by_label("Application").select_option(label="Northwind HR")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("main").get_by_role("status").first).to_contain_text("4 of 4 entries shown, newest first")
    expect(totals.get_by_role("button", name=re.compile("Success"))).to_contain_text("3")

    page.get_by_role("button", name="Clear").click()
    page.get_by_label("Person").fill("fail")
    page.locator("#f-person-matches").get_by_label(re.compile("Fail Fred")).check()
    expect(page.locator(".person-chip")).to_contain_text("Entries of Fail Fred")
    expect(page.locator("tr.log-row")).to_have_count(1)
    expect(page.locator("tr.log-row")).to_contain_text("Failure")
    page.locator("tr.log-row").get_by_role("button").click()
    expect(page.locator("tr.log-detail")).to_contain_text("injected")
    assert "person=" in page.evaluate("window.location.hash")
    page.get_by_role("button", name=re.compile("Stop filtering by Fail Fred")).click()
    expect(page.locator("tr.log-row")).to_have_count(everything)

    first = page.locator("tr.log-row").first.get_attribute("data-entry")
    page.get_by_role("button", name=re.compile("^When")).click()
    expect(page.get_by_role("columnheader", name=re.compile("When"))).to_have_attribute("aria-sort", "ascending")
    assert "order=asc" in page.evaluate("window.location.hash")
    expect(page.locator("tr.log-row").last).to_have_attribute("data-entry", first)  # the exact reverse

    with page.expect_download() as caught:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(caught.value.path(), encoding="utf-8-sig").read())))
    assert len(rows) == everything and {"success", "failure"} <= {r["status"] for r in rows}
    assert {r["sourceDisplayName"] for r in rows if r["status"] == "failure"} == {"Fail Fred", "No Login"}
    with page.expect_download() as caught:
        page.get_by_role("button", name="Download JSON").click()
    entries = json.loads(open(caught.value.path(), encoding="utf-8").read())
    assert len(entries) == everything and all(e["jobId"] for e in entries)
    assert caught.value.suggested_filename.startswith("provisioning-logs-")
    shoot(page, screenshots, "logs-1280")


# -- every page: axe-core, narrow screens, dark mode ------------------------------------------------

@pytest.mark.parametrize("width,scheme", [(1280, "light"), (390, "light"), (1280, "dark"), (390, "dark")])
def test_every_page_passes_axe_and_fits(open_page, seeded, screenshots, width, scheme):
    pages = {
        "job": (f"#/job/{seeded['sp']}/{seeded['job']}", "Contoso SCIM"),
        "inbound-job": (f"#/job/{seeded['hrSp']}/{seeded['hrJob']}", "Northwind HR"),
        "logs": ("#/logs", "Provisioning logs"),
    }
    page = open_page(width=width, scheme=scheme)
    expect(page.locator(".job-card").first).to_be_visible()
    if scheme == "dark":  # the light overview is checked with the job list above
        axe_clean(page, f"overview at {width} px, {scheme}")
    for name, (hash_, heading) in pages.items():
        page.evaluate(f"window.location.hash = {json.dumps(hash_)}")
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator(".loading")).to_have_count(0)  # everything on it has loaded
        axe_clean(page, f"{name} at {width} px, {scheme}")
        fits(page, width, f"{name} at {width} px, {scheme}")
        shoot(page, screenshots, f"{name}-{width}-{scheme}")
