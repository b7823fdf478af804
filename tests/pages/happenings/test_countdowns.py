"""Flash sales and draws on the host panel and the viewer page, in Chromium: countdowns and
"x% claimed" follow the sale's units, a sold-out sale puts the regular price back, a draw
survives a reload of the panel and closes by itself at its time."""

import re

from playwright.async_api import BrowserContext, expect

from tests.pages.browsing import open_page
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S


async def _buy(server: LiveServer, session_id: str, product_id: str, viewer: str) -> None:
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": viewer},
        )
    assert answer.status_code == 201, answer.text


async def test_a_sale_counts_down_and_sells_out_on_both_pages(
    server: LiveServer, context: BrowserContext
) -> None:
    """The sale's countdown and claimed share move with each order on the viewer's card and
    the host's list; when its two units are gone the card shows the regular price again."""
    opened = await open_session(server, stock=10, limit=None, price_cents=19_900)
    sid = opened.session_id
    async with server.client(opened.host_token) as host_api:
        await host_api.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
        await host_api.post(
            f"/api/sessions/{sid}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 4_900,
                "stock_cap": 2,
                "duration_s": 300,
            },
        )
    token = server.token("viewer", "vi", name="Vi")
    viewer = (await open_page(context, f"{server.base_url}/watch/{sid}?token={token}")).page
    host = (
        await open_page(context, f"{server.base_url}/host?session={sid}&token={opened.host_token}")
    ).page
    await expect(viewer.locator("#card-price")).to_have_text("¥49.00", timeout=WAIT_MS)
    await expect(viewer.locator("#card-was")).to_have_text("¥199.00")
    await expect(viewer.locator("#card-sale")).to_contain_text("0% claimed")
    await expect(viewer.locator("#card-sale .countdown")).to_have_text(re.compile(r"^4:5\d$"))
    await expect(host.locator("#sales li")).to_contain_text(
        "2 of 2 left (0% claimed)", timeout=WAIT_MS
    )
    await expect(host.locator("#sales li .countdown")).to_have_text(re.compile(r"^4:5\d$"))

    await _buy(server, sid, opened.product_id, "b1")
    await expect(viewer.locator("#card-sale")).to_contain_text("50% claimed", timeout=WAIT_MS)
    await expect(host.locator("#sales li")).to_contain_text(
        "1 of 2 left (50% claimed)", timeout=WAIT_MS
    )
    await _buy(server, sid, opened.product_id, "b2")
    await expect(viewer.locator("#card-price")).to_have_text("¥199.00", timeout=WAIT_MS)
    await expect(viewer.locator("#card-was")).to_have_text("")
    await expect(viewer.locator("#card-sale")).to_be_hidden()
    await expect(host.locator("#sales li")).to_have_count(0)
    await expect(host.locator(".toast", has_text="Flash sale sold out")).to_be_visible()


async def test_a_draw_survives_a_reload_and_closes_by_itself(
    server: LiveServer, context: BrowserContext
) -> None:
    """A three-second draw opened from the panel counts down on both pages, is still listed
    after the panel reloads, and closes at its time without anybody pressing Draw now."""
    opened = await open_session(server)
    sid = opened.session_id
    token = server.token("viewer", "wu", name="Wu")
    viewer = (await open_page(context, f"{server.base_url}/watch/{sid}?token={token}")).page
    host = (
        await open_page(context, f"{server.base_url}/host?session={sid}&token={opened.host_token}")
    ).page
    await expect(host.locator("#connection")).to_have_text("Connected", timeout=WAIT_MS)
    await host.locator('#draw-form input[name="seconds"]').fill("4")
    await host.locator("#draw-form button").click()
    await expect(viewer.locator("#banner .countdown")).to_be_visible(timeout=WAIT_MS)
    await host.reload()
    await expect(host.locator("#draws li")).to_contain_text("closes in", timeout=WAIT_MS)
    await expect(host.locator("#draws li button", has_text="Draw now")).to_be_visible()
    await expect(host.locator("#draws li")).to_contain_text("entered)", timeout=WAIT_MS)
    await expect(viewer.locator("#banner")).to_contain_text("Lucky draw", timeout=WAIT_MS)
