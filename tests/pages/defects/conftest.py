"""A phone-sized browser profile for the defect tests."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext

from tests.pages.shop.conftest import PHONE
from tests.support.units import UNIT_S


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh phone-sized profile (touch, mobile viewport) for one test."""
    fresh = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    fresh.set_default_timeout(15_000 * UNIT_S)
    try:
        yield fresh
    finally:
        await fresh.close()
