"""The viewer's shop on a phone, in Chromium: the product bag lists every product with its
image and stock per variant, the detail picks a variant and a quantity, and the order is paid
through the development provider's page; my orders survive a reload."""

from playwright.async_api import BrowserContext, expect

from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def _catalog(server: LiveServer) -> tuple[str, dict[str, str]]:
    """A live session: a coat in three sizes (pinned), a scarf and a tote."""
    host = server.token("host", "hana")
    ids: dict[str, str] = {}
    async with server.client(host) as client:
        session_id = (await client.post("/api/sessions", json={"title": "Autumn"})).json()["id"]
        path = f"/api/sessions/{session_id}/products"
        for size, stock in (("S", 0), ("M", 4), ("L", 9)):
            body = {
                "sku": f"COAT-{size}",
                "title": "Wool coat",
                "price_cents": 59_900,
                "stock": stock,
                "limit_per_viewer": 3,
                "options": {"size": size},
            }
            if ids:
                body["variant_of"] = ids["S"]
            ids[size] = (await client.post(path, json=body)).json()["product_id"]
        for sku, title, price in (("SCARF", "Cashmere scarf", 19_900), ("TOTE", "Tote", 9_900)):
            body = {"sku": sku, "title": title, "price_cents": price, "stock": 20}
            ids[sku] = (await client.post(path, json=body)).json()["product_id"]
        await client.post(f"/api/sessions/{session_id}/start")
        await client.post(f"/api/sessions/{session_id}/pin", json={"product_id": ids["M"]})
    return session_id, ids


async def test_a_viewer_picks_a_variant_buys_two_and_pays(
    paying_server: LiveServer, phone: BrowserContext
) -> None:
    """Bag -> coat -> size L, quantity 2 -> Buy now -> my orders -> Pay -> the pay page ->
    back in the room, paid; a reload still lists the paid order."""
    server = paying_server
    session_id, ids = await _catalog(server)
    token = server.token("viewer", "vera", name="Vera")
    viewer = await open_page(phone, f"{server.base_url}/watch/{session_id}?token={token}")
    page = viewer.page
    await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await expect(page.locator("#card-stock")).to_have_text("13 left · 3 options")

    await page.locator("#bag-open").click()
    items = page.locator("#bag-list .bag-item")
    await expect(items).to_have_count(3)
    await expect(items.nth(0)).to_contain_text("Explaining now")
    await expect(items.nth(1)).to_contain_text("Cashmere scarf")
    await items.nth(0).click()

    sizes = page.locator("#detail-options .option")
    await expect(sizes).to_have_text(["S (sold out)", "M", "L"])
    await expect(page.locator(f'#detail-options [data-product-id="{ids["M"]}"]')).to_have_attribute(
        "aria-pressed", "true"
    )
    await page.locator(f'#detail-options [data-product-id="{ids["L"]}"]').click()
    await expect(page.locator("#detail-stock")).to_have_text("9 left")
    await page.locator("#qty-plus").click()
    await expect(page.locator("#detail-total")).to_have_text("¥1,198.00")
    await page.locator("#detail-buy").click()

    order = page.locator("#orders-list .order-item").first
    await expect(order).to_have_attribute("data-status", "reserved", timeout=WAIT_MS)
    await expect(order).to_contain_text("Wool coat (size: L) \u00d7 2")
    await expect(order.locator(".countdown")).to_have_text("14:59", timeout=3000 * UNIT_S)
    await order.locator(".pay").click()

    await expect(page.locator("#pay-amount")).to_have_text("¥1,198.00", timeout=WAIT_MS)
    await page.locator("#pay").click()
    await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
    await page.locator("#bag-open").click()
    await page.locator("#orders-open").click()
    await expect(page.locator("#orders-list .order-item").first).to_have_attribute(
        "data-status", "paid", timeout=WAIT_MS
    )
    await page.reload()
    await page.locator("#bag-open").click()
    await page.locator("#orders-open").click()
    await expect(page.locator("#orders-list .order-item")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#orders-list .order-item")).to_contain_text("Paid")
    async with server.client(token) as client:
        mine = (await client.get("/api/orders/mine")).json()["items"]
    assert [(o["product_id"], o["qty"], o["status"]) for o in mine] == [(ids["L"], 2, "paid")]
    assert viewer.errors == []
