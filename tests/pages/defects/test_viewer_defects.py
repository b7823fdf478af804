"""Defects of the viewer page found by trying it as a new user (issue 17), each pinned in
Chromium: a used coupon offered again, an ended session still selling, toasts over the comment
box on a phone, a struck-through price white on white."""

from playwright.async_api import BrowserContext, Page, expect

from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def _coupon(server: LiveServer, session_id: str, host_token: str) -> str:
    async with server.client(host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{session_id}/coupons",
            json={"title": "¥20 off", "kind": "amount_off", "value": 2_000, "quantity": 50},
        )
    coupon_id: str = dropped.json()["coupon_id"]
    return coupon_id


async def _overlap(page: Page, first: str, second: str) -> bool:
    a = await page.locator(first).bounding_box()
    b = await page.locator(second).bounding_box()
    assert a is not None
    assert b is not None
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


async def test_a_used_coupon_is_not_offered_again(
    server: LiveServer, phone: BrowserContext
) -> None:
    """Claimed and spent on an order, the coupon does not come back with a Claim button after
    a reload (its one claim per viewer is used)."""
    opened = await open_session(server, stock=10, price_cents=19_900)
    coupon_id = await _coupon(server, opened.session_id, opened.host_token)
    token = server.token("viewer", "uma", name="Uma")
    viewer = await open_page(phone, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    page = viewer.page
    await page.locator("#claim").click()
    await expect(page.locator("#coupon-drop")).to_be_hidden(timeout=WAIT_MS)
    async with server.client(token) as client:
        order = await client.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1, "coupon_id": coupon_id},
            headers={"Idempotency-Key": "uma-1"},
        )
    assert order.status_code == 201, order.text
    await page.reload()
    await expect(page.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    await expect(page.locator("#coupon-drop")).to_be_hidden()
    assert viewer.errors == []


async def test_an_ended_session_offers_nothing(server: LiveServer, phone: BrowserContext) -> None:
    """When the host ends the session, the open coupon and the viewer count go: the page says
    it ended, and Buy is gone."""
    opened = await open_session(server)
    await _coupon(server, opened.session_id, opened.host_token)
    async with server.client(opened.host_token) as host:
        await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
    token = server.token("viewer", "ed", name="Ed")
    viewer = await open_page(phone, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    page = viewer.page
    await expect(page.locator("#coupon-drop")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#viewers")).to_contain_text("watching", timeout=WAIT_MS)
    async with server.client(opened.host_token) as host:
        await host.post(f"/api/sessions/{opened.session_id}/end")
    await expect(page.locator("#viewers")).to_have_text("Ended", timeout=WAIT_MS)
    await expect(page.locator("#coupon-drop")).to_be_hidden()
    await expect(page.locator("#card")).to_be_hidden()
    await expect(page.locator("#ended-box")).to_be_visible()
    await page.reload()
    await expect(page.locator("#viewers")).to_have_text("Ended", timeout=WAIT_MS)
    await expect(page.locator("#coupon-drop")).to_be_hidden()


async def test_toasts_leave_the_comment_box_free_on_a_phone(
    server: LiveServer, phone: BrowserContext
) -> None:
    """The "Coupon claimed!" message does not cover the comment box or Send."""
    opened = await open_session(server)
    await _coupon(server, opened.session_id, opened.host_token)
    token = server.token("viewer", "tia", name="Tia")
    page = (
        await open_page(phone, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    ).page
    await page.locator("#claim").click()
    await expect(page.locator(".toast.ok")).to_be_visible(timeout=WAIT_MS)
    assert not await _overlap(page, "#toasts", "#comment-form")


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(css: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in css[css.index("(") + 1 : -1].replace("/", ",").split(",")]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


async def test_the_struck_through_price_passes_wcag_aa(
    server: LiveServer, phone: BrowserContext
) -> None:
    """During a flash sale the regular price, struck through on the white card, has a contrast
    of at least 4.5:1 against it (WCAG 2 AA for normal text)."""
    opened = await open_session(server, price_cents=19_900)
    async with server.client(opened.host_token) as host:
        await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 9_900,
                "stock_cap": 5,
                "duration_s": 300,
            },
        )
    token = server.token("viewer", "cy", name="Cy")
    page = (
        await open_page(phone, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    ).page
    was = page.locator("#card-was")
    await expect(was).to_have_text("¥199.00", timeout=WAIT_MS)
    color = _rgb(await was.evaluate("e => getComputedStyle(e).color"))
    background = _rgb(
        await page.locator("#card").evaluate("e => getComputedStyle(e).backgroundColor")
    )
    assert background[3] == 1.0
    # A translucent text colour blends with the card behind it.
    alpha = color[3]
    r, g, b = (alpha * c + (1 - alpha) * k for c, k in zip(color[:3], background[:3], strict=True))
    lighter, darker = sorted((_luminance((r, g, b)), _luminance(background[:3])), reverse=True)
    ratio = (lighter + 0.05) / (darker + 0.05)
    assert ratio >= 4.5, f"contrast {ratio:.2f}:1"
