"""A real Chromium for the page tests: Debian's ``chromium`` driven by Playwright.

Without a ``chromium`` on the PATH the page tests skip, saying so; with
``LIVE_TEST_REQUIRE_BROWSER=1`` (CI) they fail instead, so a missing browser never passes
silently. `playwright install` is never needed: the system's browser is launched directly.
"""

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright

from tests.support.units import UNIT_S

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 900}


def chromium_path() -> str:
    """The system's Chromium, or skip (fail when the run requires a browser)."""
    path = shutil.which("chromium")
    if path is None:
        reason = "no chromium on the PATH (apt-get install -y chromium) for the page tests"
        if os.environ.get("LIVE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}, and LIVE_TEST_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the run."""
    path = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (its own storage) for one test, laptop-sized."""
    fresh = await browser.new_context(viewport=LAPTOP)
    fresh.set_default_timeout(15_000 * UNIT_S)
    try:
        yield fresh
    finally:
        await fresh.close()
