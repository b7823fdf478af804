"""A host's whole session in the panel, signed in through development sign-in: create, add a
product, a refusal in words, start, pin, flash sale, moderation, lucky draw, end, clips; and
the touch targets on a tablet."""

import asyncio

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.pages.browsing import open_page
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def _comment(viewer: Page, text: str) -> None:
    await viewer.locator("#comment").fill(text)
    await viewer.locator("#comment-form button", has_text="Send").click()


async def test_a_host_runs_a_session_from_the_panel(
    dev_server: LiveServer, context: BrowserContext
) -> None:
    """Everything a host does mid-stream works from the panel and reaches the viewer."""
    host = await open_page(context, f"{dev_server.base_url}/host")
    page = host.page
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator("#signin-name").fill("Hana")
    await page.locator("#signin-brand").fill(dev_server.brand)
    await page.locator("#signin-dev-form button").click()
    await expect(page.locator("#who")).to_have_text(f"Hana · {dev_server.brand}")

    await page.locator("#new-title").fill("Evening show")
    await page.locator("#new-session button").click()
    await expect(page.locator("#session-title")).to_have_text("Evening show", timeout=WAIT_MS)
    await expect(page.locator("#session-status")).to_have_text("Not started")

    await page.locator("#products-card summary").click()
    form = page.locator("#add-product")
    for name, value in {
        "title": "Silk shirt",
        "sku": "SHIRT-1",
        "price": "129",
        "stock": "5",
    }.items():
        await form.locator(f'input[name="{name}"]').fill(value)
    await form.locator("button").click()
    row = page.locator(".product", has_text="Silk shirt")
    await expect(row).to_contain_text("¥129.00", timeout=WAIT_MS)

    await page.locator("#drop-coupon").click()
    await expect(page.locator(".toast.error")).to_have_text(
        "The session is not live: start it first.", timeout=WAIT_MS
    )

    await page.locator("#start").click()
    await expect(page.locator("#session-status")).to_have_text("LIVE", timeout=WAIT_MS)
    session_id = await page.evaluate("new URLSearchParams(location.search).get('session')")
    viewer_token = dev_server.token("viewer", "vera", name="Vera")
    watcher = await open_page(
        context, f"{dev_server.base_url}/watch/{session_id}?token={viewer_token}"
    )
    viewer = watcher.page
    await expect(viewer.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)

    await row.locator(".pin").click()
    await expect(viewer.locator("#card-price")).to_have_text("¥129.00", timeout=WAIT_MS)
    sale = page.locator("#sale-form")
    await sale.locator('input[name="price"]').fill("99")
    await sale.locator("button").click()
    await expect(viewer.locator("#card-price")).to_have_text("¥99.00", timeout=WAIT_MS)
    await expect(viewer.locator("#card-was")).to_have_text("¥129.00")
    await page.locator("#sales button", has_text="Close sale").click()
    await expect(viewer.locator("#card-price")).to_have_text("¥129.00", timeout=WAIT_MS)

    await _comment(viewer, "first!")
    posted = page.locator("#comments li", has_text="first!")
    await expect(viewer.locator("#overlay li", has_text="first!")).to_be_visible(timeout=WAIT_MS)
    await posted.locator("button", has_text="Delete").click()
    await expect(viewer.locator("#overlay li", has_text="first!")).to_have_count(0, timeout=WAIT_MS)

    await page.locator("#draw-form button").click()
    await expect(viewer.locator("#banner")).to_contain_text("LUCKY", timeout=WAIT_MS)
    await _comment(viewer, "lucky me")
    await expect(page.locator("#comments li", has_text="lucky me")).to_be_visible(timeout=WAIT_MS)
    await page.locator("#draws button", has_text="Draw now").click()
    await expect(page.locator("#draws")).to_contain_text("won by vera", timeout=WAIT_MS)
    await expect(viewer.locator(".toast.ok", has_text="You won Scarf!")).to_be_visible(
        timeout=WAIT_MS
    )

    await (
        page.locator("#comments li", has_text="lucky me").locator("button", has_text="Mute").click()
    )
    await expect(page.locator(".toast.ok", has_text="Vera is muted")).to_be_visible(timeout=WAIT_MS)
    await _comment(viewer, "can you hear me")
    await expect(viewer.locator(".toast.error")).to_have_text(
        "You have been muted in this room.", timeout=WAIT_MS
    )

    await page.locator("#end").click()
    await expect(page.locator("#session-status")).to_have_text("Ended", timeout=WAIT_MS)
    await expect(viewer.locator("#ended-box")).to_contain_text("has ended", timeout=WAIT_MS)
    await expect(viewer.locator("#connection")).to_have_text("Session ended", timeout=WAIT_MS)
    # After the end the bar keeps the products only: no comment box, Send, Ask or Like.
    for gone in ("#comment", "#comment-form button[data-i18n='viewer.send']", "#ask", "#like"):
        await expect(viewer.locator(gone)).to_be_hidden()
    await expect(viewer.locator("#bag-open")).to_be_visible()
    past = page.locator("#past > li", has_text="Evening show")

    async def clips_shown() -> bool:
        # The clips are cut once the archive is complete: until then the panel says so, and
        # asking again is the only way to see them (the panel does not poll).
        if await past.locator("li", has_text="Silk shirt").count():
            return True
        await past.locator("button", has_text="Show clips").click()
        return False

    await eventually(clips_shown, timeout_s=30 * UNIT_S, what="the clips in the panel", poll_s=0.5)
    assert [*host.errors, *watcher.errors] == []


async def test_pin_and_coupon_buttons_are_large_on_a_tablet(
    server: LiveServer, browser: Browser
) -> None:
    """On a tablet held upright, pin and coupon buttons are at least 48 px each way."""
    opened = await open_session(server)
    tablet = await browser.new_context(
        viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True
    )
    try:
        host = await open_page(
            tablet, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
        )
        pin = host.page.locator(f'[data-product-id="{opened.product_id}"] .pin')
        await expect(pin).to_be_enabled(timeout=WAIT_MS)
        for button in (pin, host.page.locator("#drop-coupon"), host.page.locator("#unpin")):
            box = await button.bounding_box()
            assert box is not None
            assert box["height"] >= 48
            assert box["width"] >= 48
        width = await host.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 820, "the panel scrolls sideways on a tablet"
    finally:
        await tablet.close()
