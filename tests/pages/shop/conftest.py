"""Phone-sized browser profiles and a server that takes payments (the development provider)."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize

from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.units import UNIT_S

PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh phone-sized profile (touch, mobile viewport) for one test."""
    fresh = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    fresh.set_default_timeout(15_000 * UNIT_S)
    try:
        yield fresh
    finally:
        await fresh.close()


@pytest.fixture
async def paying_server(
    data_dir: Path, database_url: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """The app with the development payment provider, as `live demo` runs it."""
    settings = settings_for(data_dir, database_url=database_url, redis_url=redis_url)
    server = await start_server(dataclasses.replace(settings, payment_provider="dev"))
    try:
        yield server
    finally:
        await server.stop()
