"""The whole customer journey of issue 17 in Chromium on phone-sized screens: a guide shares
a short link; a viewer opens it, browses the bag, picks a variant, applies a coupon, buys and
pays through the development provider; the guide sees the paid order and its commission;
after the end the viewer opens the guide's clip link, watches it and buys from it, credited
to the guide."""

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.pages.browsing import open_page
from tests.pages.shop.conftest import PHONE
from tests.support.polling import eventually
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.units import UNIT_S

WAIT_MS = 20_000 * UNIT_S


@pytest.fixture
async def demo_like(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    """The app as `live demo` runs it: development sign-in and payment provider."""
    settings = settings_for(data_dir, database_url=database_url, redis_url=redis_url)
    server = await start_server(
        dataclasses.replace(settings, payment_provider="dev", dev_signin=True)
    )
    try:
        yield server
    finally:
        await server.stop()


async def _phone(browser: Browser) -> BrowserContext:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    return context


async def _seed(server: LiveServer) -> tuple[str, str, dict[str, str]]:
    """A brand with a commission plan and guide Wei; a live session: a coat in two sizes
    (pinned), a scarf; a coupon dropped. Returns (session, host token, product ids)."""
    admin = server.token("admin", "boss")
    async with server.client(admin) as client:
        await client.put("/api/brands/me/commission", json={"rate_bp": 1000, "upstream_rate_bp": 0})
        await client.put("/api/org/guides/wei", json={"name": "Wei"})
    host = server.token("host", "hana", name="Hana")
    ids: dict[str, str] = {}
    async with server.client(host) as client:
        sid = (await client.post("/api/sessions", json={"title": "Autumn live"})).json()["id"]
        path = f"/api/sessions/{sid}/products"
        for size in ("M", "L"):
            body = {
                "sku": f"COAT-{size}",
                "title": "Wool coat",
                "price_cents": 59_900,
                "stock": 5,
                "limit_per_viewer": 2,
                "options": {"size": size},
            }
            if ids:
                body["variant_of"] = ids["M"]
            ids[size] = (await client.post(path, json=body)).json()["product_id"]
        scarf = {"sku": "SCARF", "title": "Cashmere scarf", "price_cents": 19_900, "stock": 20}
        ids["scarf"] = (await client.post(path, json=scarf)).json()["product_id"]
        await client.post(f"/api/sessions/{sid}/start")
        await client.post(f"/api/sessions/{sid}/pin", json={"product_id": ids["M"]})
        await client.post(
            f"/api/sessions/{sid}/coupons",
            json={"title": "¥50 off", "kind": "amount_off", "value": 5_000, "quantity": 100},
        )
    return sid, host, ids


async def test_the_whole_customer_journey_on_a_phone(
    demo_like: LiveServer, browser: Browser
) -> None:
    """Short link -> bag -> size L -> coupon -> buy -> pay -> the guide's paid order and
    commission -> the end -> the guide's clip link -> watch -> buy from the clip -> the
    guide's again."""
    server = demo_like
    sid, host, ids = await _seed(server)
    guide_phone, viewer_phone = await _phone(browser), await _phone(browser)
    try:
        guide_token = server.token("guide", "wei", name="Wei", store="sh-01")
        guide = await open_page(
            guide_phone, f"{server.base_url}/guide?session={sid}&token={guide_token}"
        )
        share_url = guide.page.locator("#share-url")
        await expect(share_url).not_to_have_value("", timeout=WAIT_MS)
        short = await share_url.input_value()
        assert short.startswith(f"{server.base_url}/s/")
        assert len(short.rsplit("/", 1)[1]) <= 32

        viewer = await open_page(viewer_phone, short)
        page = viewer.page
        await page.locator("#signin-name").fill("Mia")
        await page.locator("#signin-dev-form button").click()
        await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
        await page.locator("#claim").click()
        await expect(page.locator("#coupon-drop")).to_be_hidden(timeout=WAIT_MS)
        await page.locator("#bag-open").click()
        await expect(page.locator("#bag-list .bag-item")).to_have_count(2)
        await page.locator("#bag-list .bag-item").first.click()
        await page.locator(f'#detail-options [data-product-id="{ids["L"]}"]').click()
        await expect(page.locator("#detail-coupon option:checked")).to_have_text("¥50 off")
        await expect(page.locator("#detail-total")).to_have_text("¥549.00 (¥50.00 off)")
        await page.locator("#detail-buy").click()
        order = page.locator("#orders-list .order-item").first
        await expect(order).to_contain_text("Wool coat (size: L)", timeout=WAIT_MS)
        await order.locator(".pay").click()
        await page.locator("#pay").click()
        await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)

        row = guide.page.locator("#orders tr[data-order-id]")
        await expect(row).to_have_attribute("data-status", "paid", timeout=WAIT_MS)
        await expect(row.locator(".commission")).to_contain_text("¥54.90")
        await expect(guide.page.locator("#sum-commission")).to_have_text("¥54.90", timeout=WAIT_MS)

        async with server.client(host) as client:
            await client.post(f"/api/sessions/{sid}/end")
        await expect(page.locator("#ended-box")).to_be_visible(timeout=WAIT_MS)

        async def clips_cut() -> bool:
            async with server.client(guide_token) as client:
                return (await client.get(f"/api/sessions/{sid}/clips")).status_code == 200

        await eventually(clips_cut, timeout_s=30 * UNIT_S)
        await guide.page.reload()
        clip_item = guide.page.locator("#clips li", has_text="Wool coat")
        await clip_item.locator("button", has_text="Share").click()
        clip_url = guide.page.locator("#clip-url")
        await expect(clip_url).not_to_have_value("", timeout=WAIT_MS)
        clip_short = await clip_url.input_value()
        assert clip_short.startswith(f"{server.base_url}/s/")

        await page.goto(clip_short)
        await expect(page.locator("#subtitle")).to_have_text("Clip of Autumn live", timeout=WAIT_MS)
        await expect(page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)
        await page.locator("#buy").click()
        await page.locator("#buy-now").click()
        clip_order = page.locator("#orders-list .order-item").first
        await expect(clip_order).to_have_attribute("data-status", "reserved", timeout=WAIT_MS)
        await clip_order.locator(".pay").click()
        await page.locator("#pay").click()
        await expect(page.locator("#subtitle")).to_have_text("Clip of Autumn live", timeout=WAIT_MS)

        await guide.page.locator("#scope-all").click()
        await expect(guide.page.locator("#orders tr[data-status=paid]")).to_have_count(
            2, timeout=WAIT_MS
        )
        async with server.client(guide_token) as client:
            items = (await client.get("/api/guides/me/orders")).json()["items"]
        assert [(o["status"], o["guide_id"]) for o in items] == [("paid", "wei")] * 2
        assert [o["product_id"] for o in items] == [ids["M"], ids["L"]]
        assert [*guide.errors, *viewer.errors] == []
    finally:
        await guide_phone.close()
        await viewer_phone.close()
