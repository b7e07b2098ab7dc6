"""Browser tests: the dashboard in headless Chromium (Debian's ``chromium`` package, which
``make test`` installs), driven by Playwright for Python against the real server of
tests/conftest.py. Playwright's own browser downloads are never used."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.browser.seed import seed, start_target

CHROMIUM = os.environ.get("GRAPHSYNC_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"
EXTRA_APPS = 220  # "hundreds of jobs": the job list must search and page them


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        message = (f"Chromium is not installed at {CHROMIUM}: `make test` installs Debian's chromium package "
                   "(apt-get install chromium)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def target():
    """The seeded jobs' SCIM application (in process; it refuses users named fail.*)."""
    served, _ = start_target()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def seeded(server, target) -> Iterator[dict]:
    """A tenant seeded for looking at (tests/browser/seed.py), shared by the module's tests."""
    response = httpx.post(f"{server.url}/graphsync/tenants", params={"displayName": "browser tests"})
    response.raise_for_status()
    tenant = response.json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tenant['accessToken']}"},
                      timeout=30) as http:
        ids = seed(http, target.url, extra_apps=EXTRA_APPS)
        yield {"tenant": tenant, "http": http, "url": server.url, **ids}


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the tests leave their screenshots (GRAPHSYNC_SCREENSHOTS to keep them somewhere)."""
    folder = os.environ.get("GRAPHSYNC_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
