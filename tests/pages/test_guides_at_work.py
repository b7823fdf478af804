"""Guides at work in a real Chromium at a phone size: a viewer comes through the guide's link,
asks their guide, gets a private answer and a nudge coupon, claims it and buys; the guide sees
them in "my viewers now" and sees the order; the host panel shows the answer figures and the
budget."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.pages.browsing import open_page, pay
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A phone-sized browser profile (touch, mobile viewport)."""
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(15_000 * UNIT_S)
    try:
        yield context
    finally:
        await context.close()


async def test_viewer_asks_is_answered_nudged_and_buys_while_the_guide_watches(
    server: LiveServer, phone: BrowserContext, context: BrowserContext
) -> None:
    """The whole loop through the three pages, in English; the guide's and viewer's pages in
    Simplified Chinese show the same desk with the catalog's words."""
    opened = await open_session(server, stock=10, price_cents=19_900)
    sid = opened.session_id
    guide_token = server.token("guide", "wei", name="Wei", store="sh-01")
    async with server.client(guide_token) as guide_api:
        shared = (await guide_api.get("/api/guides/me/share", params={"session_id": sid})).json()
    async with server.client(opened.host_token) as host_api:
        pinned = await host_api.post(
            f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200

    host = await open_page(
        context, f"{server.base_url}/host?session={sid}&token={opened.host_token}"
    )
    await host.page.locator("#budget-guide").fill("wei")
    await host.page.locator("#budget-count").fill("3")
    await host.page.locator("#budget-value").fill("50")
    await host.page.locator("#budget-form button").click()
    await expect(host.page.locator('#budgets li[data-guide-id="wei"]')).to_contain_text(
        "3/3 coupons", timeout=WAIT_MS
    )

    guide = await open_page(phone, f"{server.base_url}/guide?session={sid}&token={guide_token}")
    await expect(guide.page.locator("#budget-line")).to_contain_text(
        "Coupons left: 3 · ¥50.00", timeout=WAIT_MS
    )
    viewer_token = server.token("viewer", "bob", name="Bob")
    viewer = await open_page(phone, f"{shared['url']}&token={viewer_token}")
    await expect(viewer.page.locator("#card-title")).to_have_text("Wool coat", timeout=WAIT_MS)

    bob = guide.page.locator('#viewers-now li[data-viewer-id="bob"]')
    await expect(bob).to_contain_text("Bob", timeout=WAIT_MS)
    await expect(bob).to_contain_text("watching")
    await expect(bob.locator(".seen")).to_contain_text("Wool coat")

    await viewer.page.locator("#comment").fill("Does it come in navy?")
    await viewer.page.locator("#ask").click()
    question = guide.page.locator("#questions li.question")
    await expect(question).to_contain_text("Does it come in navy?", timeout=WAIT_MS)
    await expect(question).to_contain_text("Bob asks:")
    await question.locator("input.reply").fill("Yes, navy arrives tomorrow")
    await question.locator("button").click()
    await expect(viewer.page.locator("#guide-reply-text")).to_have_text(
        "Yes, navy arrives tomorrow", timeout=WAIT_MS
    )
    await expect(viewer.page.locator("#guide-reply-from")).to_have_text("Wei answered:")
    await expect(guide.page.locator("#questions")).to_contain_text("No open questions.")

    await bob.locator("button.nudge").click()
    await expect(viewer.page.locator("#coupon-title")).to_have_text(
        "A coupon from Wei", timeout=WAIT_MS
    )
    await expect(guide.page.locator("#budget-line")).to_contain_text(
        "Coupons left: 2 · ¥40.00", timeout=WAIT_MS
    )
    await viewer.page.locator("#claim").click()
    await expect(viewer.page.locator("#coupon-drop")).to_be_hidden(timeout=WAIT_MS)
    await viewer.page.locator("#buy").click()
    await expect(viewer.page.locator("#detail-total")).to_contain_text("¥189.00", timeout=WAIT_MS)
    await viewer.page.locator("#detail-buy").click()
    await expect(viewer.page.locator("#order")).to_contain_text("Reserved", timeout=WAIT_MS)

    await expect(bob.locator(".hold.reserved")).to_contain_text("Wool coat", timeout=WAIT_MS)
    order_row = guide.page.locator("#orders tr[data-order-id]")
    await expect(order_row).to_have_attribute("data-status", "reserved", timeout=WAIT_MS)
    await expect(order_row).to_contain_text("¥189.00")
    SCREENSHOTS.mkdir(exist_ok=True)
    for page in (guide.page, viewer.page):
        await page.evaluate("document.querySelector('#toasts')?.remove()")
    await guide.page.screenshot(path=SCREENSHOTS / "workspace-guide-phone.png", full_page=True)
    await viewer.page.screenshot(path=SCREENSHOTS / "workspace-viewer-phone.png")
    order_id = await order_row.get_attribute("data-order-id")
    assert order_id is not None
    await pay(server, order_id, 18_900)
    await expect(order_row).to_have_attribute("data-status", "paid", timeout=WAIT_MS)
    await expect(bob.locator(".hold")).to_have_count(0, timeout=WAIT_MS)

    await expect(
        host.page.locator('#guide-answers tr[data-guide-id="wei"] .answered')
    ).to_have_text("1 of 1", timeout=WAIT_MS)
    await expect(host.page.locator('#budgets li[data-guide-id="wei"]')).to_contain_text(
        "2/3 coupons, ¥40.00 of ¥50.00 left", timeout=WAIT_MS
    )
    await host.page.locator("#guides-work-card").screenshot(
        path=SCREENSHOTS / "workspace-host-laptop.png"
    )

    # The same desk and room in Simplified Chinese.
    guide_zh = await open_page(
        phone, f"{server.base_url}/guide?session={sid}&token={guide_token}&lang=zh-CN"
    )
    await expect(guide_zh.page.locator("#now-card h2")).to_contain_text(
        "正在看直播的我的客户", timeout=WAIT_MS
    )
    await expect(guide_zh.page.locator('#viewers-now li[data-viewer-id="bob"]')).to_contain_text(
        "已观看", timeout=WAIT_MS
    )
    await guide_zh.page.screenshot(
        path=SCREENSHOTS / "workspace-guide-phone-zh-CN.png", full_page=True
    )
    viewer_zh = await open_page(phone, f"{shared['url']}&token={viewer_token}&lang=zh-CN")
    await expect(viewer_zh.page.locator("#ask")).to_have_text("问我的导购", timeout=WAIT_MS)
    assert [*host.errors, *guide.errors, *viewer.errors, *guide_zh.errors, *viewer_zh.errors] == []
