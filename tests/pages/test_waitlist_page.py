"""The viewer page and the waitlist in a real Chromium: a sold-out card offers the waitlist,
and the unit kept for the viewer is bought with one tap."""

from playwright.async_api import BrowserContext, expect

from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def test_a_sold_out_card_joins_the_waitlist_and_buys_the_unit_kept(
    server: LiveServer, context: BrowserContext
) -> None:
    """The pinned product sells out; the viewer taps "join the waitlist"; the buyer cancels; the
    card says the unit is kept for the viewer, and one tap reserves it."""
    opened = await open_session(server, stock=1, limit=1)
    async with server.client(opened.host_token) as host:
        pinned = await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200, pinned.text
    async with server.client(server.token("viewer", "first")) as first:
        bought = await first.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "first"},
        )
        assert bought.status_code == 201, bought.text
    token = server.token("viewer", "patient", name="Pat")
    viewer = await open_page(context, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    buy = viewer.page.locator("#buy")
    await expect(buy).to_have_text("Sold out: join the waitlist", timeout=WAIT_MS)
    # On a phone the long label takes a row of its own: the title and the price stay readable.
    await viewer.page.set_viewport_size({"width": 390, "height": 844})
    button = await buy.bounding_box()
    assert button is not None
    for part in ("#card-title", "#card-price"):
        box = await viewer.page.locator(part).bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= button["y"], f"{part} runs under the button"
    await buy.click()
    await expect(buy).to_have_text("On the waitlist", timeout=WAIT_MS)
    await expect(buy).to_be_disabled()

    async with server.client(server.token("viewer", "first")) as first:
        cancelled = await first.post(f"/api/orders/{bought.json()['order_id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    await expect(buy).to_have_text("Buy: kept for you", timeout=WAIT_MS)
    await buy.click()
    await expect(viewer.page.locator("#order")).to_contain_text("Reserved", timeout=WAIT_MS)
    assert viewer.errors == []
