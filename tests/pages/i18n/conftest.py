"""Browser profiles that speak a language: the ``locale`` sets the browser's
``Accept-Language`` and ``navigator.language``; phone-sized for the viewer and guide pages."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize

from tests.pages.conftest import LAPTOP
from tests.support.units import UNIT_S

PHONE: ViewportSize = {"width": 390, "height": 844}

#: A profile in ``locale`` (``zh-CN``, ``en-US``), phone-sized unless told ``laptop=True``.
Profile = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def profile(browser: Browser) -> AsyncIterator[Profile]:
    """Fresh profiles in a given locale (UTC clock, so dates read the same everywhere)."""
    made: list[BrowserContext] = []

    async def make(locale: str, *, laptop: bool = False) -> BrowserContext:
        context = await browser.new_context(
            viewport=LAPTOP if laptop else PHONE,
            is_mobile=not laptop,
            has_touch=not laptop,
            locale=locale,
            timezone_id="UTC",
        )
        context.set_default_timeout(15_000 * UNIT_S)
        made.append(context)
        return context

    try:
        yield make
    finally:
        for context in made:
            await context.close()
