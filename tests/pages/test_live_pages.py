"""The host panel, the guide workspace and the viewer demo in a real Chromium, against a real
server: what the host does reaches the viewer's page, and what the viewer buys reaches the
host's figures and the guide's orders."""

from playwright.async_api import BrowserContext, expect

from tests.pages.browsing import open_page, pay
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def test_host_pins_and_drops_a_coupon_and_the_viewer_sees_both(
    server: LiveServer, context: BrowserContext
) -> None:
    """One tap on Pin shows the product card to the viewer; a dropped coupon appears there and
    the viewer claims it, after which the card offers it for the purchase."""
    opened = await open_session(server, stock=10, price_cents=19_900)
    viewer_token = server.token("viewer", "vera", name="Vera")
    viewer = await open_page(
        context, f"{server.base_url}/watch/{opened.session_id}?token={viewer_token}"
    )
    host = await open_page(
        context, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
    )
    await expect(viewer.page.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    await expect(host.page.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    await expect(viewer.page.locator("#card")).to_be_hidden()

    await host.page.locator(f'[data-product-id="{opened.product_id}"] .pin').click()
    await expect(viewer.page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await expect(viewer.page.locator("#card-price")).to_have_text("¥199.00")
    await expect(viewer.page.locator("#card-stock")).to_have_text("10 left")
    await expect(host.page.locator(f'[data-product-id="{opened.product_id}"] .pin')).to_have_text(
        "Pinned"
    )

    form = host.page.locator("#coupon-form")
    await form.locator('input[name="title"]').fill("¥20 off tonight")
    await form.locator('input[name="value"]').fill("20")
    await form.locator('input[name="quantity"]').fill("5")
    await host.page.locator("#drop-coupon").click()
    await expect(viewer.page.locator("#coupon-title")).to_have_text(
        "¥20 off tonight", timeout=WAIT_MS
    )
    await expect(viewer.page.locator("#coupon-detail")).to_contain_text("¥20.00 off")

    await viewer.page.locator("#claim").click()
    await expect(viewer.page.locator("#coupon-drop")).to_be_hidden(timeout=WAIT_MS)
    await viewer.page.locator("#buy").click()
    await expect(viewer.page.locator("#detail-coupon")).to_be_visible()
    await expect(viewer.page.locator("#detail-coupon option:checked")).to_have_text(
        "¥20 off tonight"
    )
    await expect(viewer.page.locator("#detail-total")).to_have_text("¥179.00 (¥20.00 off)")
    await expect(host.page.locator("#coupons li")).to_contain_text("4 of 5 left", timeout=WAIT_MS)
    assert [*viewer.errors, *host.errors] == []


async def test_a_viewer_buys_and_the_host_and_the_guide_see_it(
    server: LiveServer, context: BrowserContext
) -> None:
    """The viewer came through Wei's link and buys the pinned product; once the payment
    notification arrives the host's figures and stock bar and Wei's orders show it, paid."""
    opened = await open_session(server, stock=10, price_cents=19_900)
    guide_token = server.token("guide", "wei", name="Wei", store="sh-01")
    async with server.client(guide_token) as guide_api:
        shared = (
            await guide_api.get("/api/guides/me/share", params={"session_id": opened.session_id})
        ).json()
    async with server.client(opened.host_token) as host_api:
        pinned = await host_api.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200
    host = await open_page(
        context, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
    )
    guide = await open_page(
        context, f"{server.base_url}/guide?session={opened.session_id}&token={guide_token}"
    )
    viewer_token = server.token("viewer", "bob", name="Bob")
    viewer = await open_page(
        context,
        f"{shared['url']}&token={viewer_token}",
    )
    # The page shows the guide's short link, the one its QR code holds.
    await expect(guide.page.locator("#share-url")).to_have_value(
        f"{server.base_url}/s/{shared['short_code']}", timeout=WAIT_MS
    )
    await expect(viewer.page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)

    await viewer.page.locator("#buy").click()
    await viewer.page.locator("#detail-buy").click()
    await expect(viewer.page.locator("#order")).to_contain_text("Reserved", timeout=WAIT_MS)
    await expect(viewer.page.locator("#card-stock")).to_have_text("9 left", timeout=WAIT_MS)
    order_row = guide.page.locator("#orders tr[data-order-id]")
    await expect(order_row).to_have_attribute("data-status", "reserved", timeout=WAIT_MS)
    await expect(host.page.locator("#stat-orders")).to_have_text("1", timeout=WAIT_MS)

    order_id = await order_row.get_attribute("data-order-id")
    assert order_id is not None
    await pay(server, order_id, 19_900)

    await expect(host.page.locator("#stat-gmv")).to_have_text("¥199.00", timeout=WAIT_MS)
    await expect(host.page.locator("#stat-paid")).to_have_text("1")
    await expect(host.page.locator("#stat-conversion")).not_to_have_text("-")
    await expect(host.page.locator(f'[data-product-id="{opened.product_id}"] .left')).to_have_text(
        "9 left"
    )
    await expect(host.page.locator("#leaderboard")).to_contain_text("wei", timeout=WAIT_MS)
    await expect(order_row).to_have_attribute("data-status", "paid", timeout=WAIT_MS)
    await expect(order_row).to_contain_text("¥199.00")
    await expect(guide.page.locator("#sum-gmv")).to_have_text("¥199.00", timeout=WAIT_MS)
    await expect(viewer.page.locator("#orders-list .order-item")).to_contain_text(
        "Paid", timeout=WAIT_MS
    )
    assert [*viewer.errors, *host.errors, *guide.errors] == []


async def test_sign_in_without_dev_mode_explains_and_takes_a_pasted_token(
    server: LiveServer, context: BrowserContext
) -> None:
    """On a server without LIVE_DEV_SIGNIN the development sign-in says it is off; a pasted
    host token signs in, and a viewer token is refused for the host panel."""
    host = await open_page(context, f"{server.base_url}/host")
    page = host.page
    await page.locator("#signin-name").fill("Mallory")
    await page.locator("#signin-dev-form button").click()
    await expect(page.locator(".toast.error")).to_contain_text(
        "Development sign-in is off on this server", timeout=WAIT_MS
    )
    await page.locator("#signin-token").fill(server.token("viewer", "v"))
    await page.locator("#signin-token-form button").click()
    await expect(page.locator(".toast.error", has_text="not for a host")).to_be_visible()
    await expect(page.locator("#panel")).to_be_hidden()
    await page.locator("#signin-token").fill(server.token("host", "hana", name="Hana"))
    await page.locator("#signin-token-form button").click()
    await expect(page.locator("#who")).to_have_text(f"Hana · {server.brand}", timeout=WAIT_MS)
    await expect(page.locator("#session-select")).to_contain_text("No sessions yet")
    assert host.errors == []
