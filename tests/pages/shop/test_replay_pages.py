"""The replay and clip pages in Chromium at a phone size: a guide's clip link plays the clip
(card, comments overlay, speed), its product is bought and paid from it and credited to the
guide; the replay page seeks; the ended session's room links to both."""

from playwright.async_api import BrowserContext, expect

from tests.live.replays import archived
from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def test_a_guides_clip_link_plays_and_sells_for_the_guide(
    paying_server: LiveServer, phone: BrowserContext
) -> None:
    """The clip page plays the coat's clip (its card, the archived comment, 2x speed), and a
    viewer buys two coats from it and pays: the order is the guide's, with the clip's id."""
    server = paying_server
    ended = await archived.build(server, pause_s=1.0)
    coat_clip = next(c for c in ended.clips if c["product_id"] == ended.coat)
    guide_token = server.token("guide", "wei", name="Wei")
    async with server.client(guide_token) as guide:
        shared = (
            await guide.get(
                "/api/guides/me/share",
                params={"session_id": ended.session_id, "clip_id": coat_clip["clip_id"]},
            )
        ).json()
    assert shared["url"].startswith(f"{server.base_url}/clips/{coat_clip['clip_id']}?share=")
    token = server.token("viewer", "nina", name="Nina")
    viewer = await open_page(phone, f"{shared['url']}&token={token}")
    page = viewer.page
    await expect(page.locator("#title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await expect(page.locator("#card-price")).to_have_text("¥150.00")
    await expect(page.locator("#overlay")).to_contain_text("hello", timeout=WAIT_MS)
    await page.locator("#speed").select_option("2")
    await expect(page.locator("#banner")).to_contain_text("The end", timeout=WAIT_MS)
    await expect(page.locator("#speed")).to_have_value("2")

    await page.locator("#buy").click()
    await page.locator("#buy-plus").click()
    await expect(page.locator("#buy-now")).to_have_text("Buy now · ¥300.00")
    await page.locator("#buy-now").click()
    order = page.locator("#orders-list .order-item").first
    await expect(order).to_have_attribute("data-status", "reserved", timeout=WAIT_MS)
    await order.locator(".pay").click()
    await page.locator("#pay").click()
    await expect(page.locator("#title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await page.locator("#orders-open").click()
    await expect(page.locator("#orders-list .order-item").first).to_have_attribute(
        "data-status", "paid", timeout=WAIT_MS
    )
    async with server.client(guide_token) as guide:
        items = (await guide.get("/api/guides/me/orders")).json()["items"]
    assert [(o["qty"], o["status"], o["amount_cents"]) for o in items] == [(2, "paid", 30_000)]
    async with server.client(token) as client:
        mine = (await client.get("/api/orders/mine")).json()["items"]
    assert mine[0]["clip_id"] == coat_clip["clip_id"]
    assert viewer.errors == []


async def test_the_replay_seeks_and_the_ended_room_links_to_it(
    paying_server: LiveServer, phone: BrowserContext
) -> None:
    """The ended session's room says so and links to its replay and clips; the replay page
    seeks to the scarf's pin and shows the scarf's card."""
    server = paying_server
    ended = await archived.build(server, pause_s=1.0)
    token = server.token("viewer", "olga", name="Olga")
    room = await open_page(phone, f"{server.base_url}/watch/{ended.session_id}?token={token}")
    page = room.page
    await expect(page.locator("#ended-box")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#viewers")).to_have_text("Ended")
    await expect(page.locator("#ended-clips a")).to_have_text(
        ["▶ Wool coat", "▶ Scarf"], timeout=WAIT_MS
    )
    await page.locator("#replay-link").click()
    await expect(page.locator("#subtitle")).to_have_text(
        "Replay of the live session", timeout=WAIT_MS
    )
    await page.locator("#play").click()
    await expect(page.locator("#play")).to_have_attribute("aria-label", "Play", timeout=WAIT_MS)
    scarf_at = ended.first("pin", product_id=ended.scarf)["t_ms"]
    await page.locator("#seek").evaluate(
        "(input, t) => { input.value = t; input.dispatchEvent(new Event('change')); }", scarf_at + 5
    )
    await expect(page.locator("#card-title")).to_have_text("Scarf", timeout=WAIT_MS)
    await expect(page.locator("#buy")).to_be_enabled()
    assert room.errors == []
