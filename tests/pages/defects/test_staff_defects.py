"""Defects of the host panel and the guide workspace found by trying them (issue 17), each
pinned in Chromium: the guide's orders on a phone, the host panel on a phone, guide names on
the leaderboard, unmuting and the list of muted viewers."""

from playwright.async_api import BrowserContext, expect

from tests.pages.browsing import open_page, pay
from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S
PHONE_WIDTH = 390


async def _guide_order(server: LiveServer, guide: str) -> tuple[str, str]:
    """A session whose viewer came through ``guide``'s link and paid one order."""
    opened = await open_session(server, stock=5, price_cents=19_900)
    async with server.client(server.token("guide", guide)) as client:
        code = (
            await client.get("/api/guides/me/share", params={"session_id": opened.session_id})
        ).json()["code"]
    token = server.token("viewer", "bo", name="Bo")
    room = await Room.join(server.ws_url(opened.session_id, token, share=code))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(token) as viewer:
        order = (
            await viewer.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": "bo-1"},
            )
        ).json()
    await pay(server, order["order_id"], order["amount_cents"])
    return opened.session_id, opened.host_token


async def test_the_guides_orders_fit_a_phone(server: LiveServer, phone: BrowserContext) -> None:
    """On a phone each order is a card: its status and commission are on screen, and the
    orders card does not scroll sideways."""
    session_id, _ = await _guide_order(server, "wei")
    token = server.token("guide", "wei", name="Wei")
    page = (
        await open_page(phone, f"{server.base_url}/guide?session={session_id}&token={token}")
    ).page
    row = page.locator("#orders tr[data-order-id]")
    await expect(row).to_have_attribute("data-status", "paid", timeout=WAIT_MS)
    for cell in (row.locator(".status"), row.locator(".commission")):
        await expect(cell).to_be_visible()
        box = await cell.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE_WIDTH
    sideways = await page.locator("#orders-card").evaluate("e => e.scrollWidth - e.clientWidth")
    assert sideways <= 0


async def test_the_host_panel_fits_a_phone(server: LiveServer, phone: BrowserContext) -> None:
    """On a phone the header is one row and sticks; sections fold to their titles, so the
    panel is at most about two screens tall, and a tap on a title opens its section."""
    opened = await open_session(server)
    page = (
        await open_page(
            phone, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
        )
    ).page
    await expect(page.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    header = await page.locator("header.bar").bounding_box()
    assert header is not None
    assert header["height"] <= 64
    height = await page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2 * 844, f"the panel is {height} px tall"
    await expect(page.locator("#coupon-form")).to_be_hidden()
    await page.locator("#coupon-card h2").click()
    await expect(page.locator("#drop-coupon")).to_be_visible()
    await page.mouse.wheel(0, 1500)
    header = await page.locator("header.bar").bounding_box()
    assert header is not None
    assert abs(header["y"]) < 1


async def test_the_leaderboard_names_guides(server: LiveServer, context: BrowserContext) -> None:
    """The leaderboard shows a guide by the name the organisation gives it, not its id."""
    admin = server.token("admin", "boss")
    async with server.client(admin) as client:
        named = await client.put("/api/org/guides/wei", json={"name": "Wei Zhang"})
        assert named.status_code == 200, named.text
    session_id, host_token = await _guide_order(server, "wei")
    page = (
        await open_page(context, f"{server.base_url}/host?session={session_id}&token={host_token}")
    ).page
    row = page.locator('#leaderboard tr[data-guide-id="wei"]')
    await expect(row.locator("td").first).to_have_text("Wei Zhang", timeout=WAIT_MS)


async def test_a_muted_viewer_is_listed_and_unmuted(
    server: LiveServer, context: BrowserContext
) -> None:
    """The host mutes Vera from her comment: she is listed by name, still after a reload of
    the panel; Unmute lets her comment again."""
    opened = await open_session(server)
    token = server.token("viewer", "vera", name="Vera")
    viewer = (
        await open_page(context, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    ).page
    host = (
        await open_page(
            context, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
        )
    ).page
    await expect(viewer.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    await viewer.locator("#comment").fill("hello")
    await viewer.locator("#comment-form button", has_text="Send").click()
    comment = host.locator("#comments li", has_text="hello")
    await comment.locator("button", has_text="Mute").click()
    await expect(host.locator("#muted li")).to_have_text("VeraUnmute", timeout=WAIT_MS)
    await host.reload()
    muted = host.locator('#muted li[data-user-id="vera"]')
    await expect(muted).to_contain_text("Vera", timeout=WAIT_MS)
    await muted.locator("button", has_text="Unmute").click()
    await expect(host.locator("#muted li")).to_have_text("Nobody is muted.", timeout=WAIT_MS)
    await viewer.locator("#comment").fill("back again")
    await viewer.locator("#comment-form button", has_text="Send").click()
    await expect(host.locator("#comments li", has_text="back again")).to_be_visible(timeout=WAIT_MS)
