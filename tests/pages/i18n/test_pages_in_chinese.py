"""The pages in Simplified Chinese in a real Chromium: a viewer whose browser prefers zh-CN
and the host panel see pins, coupons and errors in Chinese; money and dates follow the page's
language through Intl; the brand's setting and ``?lang=`` choose the guide workspace's."""

import re

import orjson
from playwright.async_api import ConsoleMessage, Page, WebSocketRoute, expect

from tests.pages.browsing import OpenPage, open_page
from tests.pages.i18n.conftest import Profile
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 15_000 * UNIT_S
#: Frames that tell a page its stock changed: dropped for the viewer whose screen is stale.
STOCK_FRAMES = {"stock", "sold_out"}


def _missing_keys(page: Page) -> list[str]:
    """Console errors of i18n.js (a key missing from the catalog) on ``page``, as they come."""
    missing: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" and message.text.startswith("i18n:"):
            missing.append(message.text)

    page.on("console", seen)
    return missing


async def _stale_stock(route: WebSocketRoute) -> None:
    """Pass the room socket through, minus its stock news (a screen that has not caught up)."""
    server = route.connect_to_server()

    def relay(message: str | bytes) -> None:
        data = orjson.loads(message)
        frames = data if isinstance(data, list) else [data]
        kept = [f for f in frames if f.get("type") not in STOCK_FRAMES]
        if kept:
            route.send(orjson.dumps(kept if isinstance(data, list) else kept[0]).decode())

    server.on_message(relay)


async def test_viewer_and_host_in_chinese_pin_coupon_and_sold_out(
    server: LiveServer, profile: Profile
) -> None:
    """The host pins (讲解中) and drops a coupon (领券) from a zh-CN panel; the viewer's phone
    in zh-CN shows them in Chinese with ¥12.30 as Intl formats it; when the last unit went to
    someone else, the viewer's 立即购买 is answered 已抢光 in Chinese."""
    opened = await open_session(server, stock=1, limit=1, price_cents=1_230)
    phone = await profile("zh-CN")
    await phone.route_web_socket(re.compile(r".*/ws/sessions/.*"), _stale_stock)
    laptop = await profile("zh-CN", laptop=True)
    host = await open_page(
        laptop, f"{server.base_url}/host?session={opened.session_id}&token={opened.host_token}"
    )
    token = server.token("viewer", "mei", name="小美")
    viewer = await open_page(phone, f"{server.base_url}/watch/{opened.session_id}?token={token}")
    missing = [*_missing_keys(host.page), *_missing_keys(viewer.page)]
    for opened_page in (host, viewer):
        await expect(opened_page.page.locator("html")).to_have_attribute("lang", "zh-CN")
        await expect(opened_page.page.locator("#connection")).to_have_text(
            "已连接", timeout=WAIT_MS
        )
    await expect(viewer.page.locator("#viewers")).to_contain_text("人在看")
    await expect(host.page.locator("#products-card h2")).to_have_text("商品 · 一键讲解")

    pin = host.page.locator(f'[data-product-id="{opened.product_id}"] .pin')
    await expect(pin).to_have_text("讲解")
    await pin.click()
    await expect(pin).to_have_text("讲解中", timeout=WAIT_MS)
    card = viewer.page.locator("#card")
    await expect(card.locator(".live-now")).to_have_text("讲解中", timeout=WAIT_MS)
    await expect(viewer.page.locator("#buy")).to_have_text("立即购买")
    await expect(viewer.page.locator("#card-stock")).to_have_text("仅剩 1 件！")
    by_intl = await viewer.page.evaluate(
        """new Intl.NumberFormat("zh-CN", {style: "currency", currency: "CNY",
           currencyDisplay: "narrowSymbol"}).format(12.3)"""
    )
    assert by_intl == "¥12.30"
    await expect(viewer.page.locator("#card-price")).to_have_text(by_intl)

    form = host.page.locator("#coupon-form")
    await expect(form.locator('input[name="title"]')).to_have_value("立减 20 元")
    await form.locator('input[name="title"]').fill("新人专享券")
    await form.locator('input[name="value"]').fill("5")
    await form.locator('input[name="quantity"]').fill("5")
    await host.page.locator("#drop-coupon").click()
    await expect(viewer.page.locator("#coupon-title")).to_have_text("新人专享券", timeout=WAIT_MS)
    await expect(viewer.page.locator("#coupon-detail")).to_have_text("减 ¥5.00 · 剩 5 张")
    claim = viewer.page.locator("#claim")
    await expect(claim).to_have_text("领券")
    await claim.click()
    await expect(viewer.page.locator(".toast.ok")).to_have_text("领券成功！", timeout=WAIT_MS)
    await expect(host.page.locator("#coupons li")).to_contain_text("剩 4 / 5 张", timeout=WAIT_MS)

    async with server.client(server.token("viewer", "quick")) as quick:
        bought = await quick.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "quick-1"},
        )
        assert bought.status_code == 201, bought.text
    await expect(host.page.locator("#ticker")).to_contain_text("刚刚购买了", timeout=WAIT_MS)
    await viewer.page.locator("#buy").click()
    buy_now = viewer.page.locator("#detail-buy")
    await expect(buy_now).to_contain_text("立即购买")
    await expect(viewer.page.locator("#detail-coupon option:checked")).to_have_text("新人专享券")
    await buy_now.click()
    await expect(viewer.page.locator(".toast.error")).to_have_text("已抢光", timeout=WAIT_MS)
    assert [*host.errors, *viewer.errors] == []
    assert missing == []


async def test_money_and_dates_follow_the_page_language(
    server: LiveServer, profile: Profile
) -> None:
    """LiveI18n.money, dateTime, time and relative format with Intl for the page's language."""
    formats: dict[str, dict[str, str]] = {}
    for locale, lang in (("en-US", "en"), ("zh-CN", "zh-CN")):
        opened: OpenPage = await open_page(await profile(locale), f"{server.base_url}/host")
        await expect(opened.page.locator("html")).to_have_attribute("lang", lang)
        formats[lang] = await opened.page.evaluate(
            """LiveI18n.ready.then(() => ({
                 lang: LiveI18n.lang,
                 money: LiveI18n.money(1230),
                 usd: LiveI18n.money(1230, "USD"),
                 dateTime: LiveI18n.dateTime(Date.UTC(2026, 11, 6, 20, 5)),
                 time: LiveI18n.time(Date.UTC(2026, 11, 6, 20, 5, 9)),
                 relative: LiveI18n.relative(Date.now() + 5 * 60 * 1000 + 500),
               }))"""
        )
        assert opened.errors == []
    assert formats["en"] == {
        "lang": "en",
        "money": "¥12.30",
        "usd": "$12.30",
        "dateTime": "Dec 6, 2026, 8:05 PM",
        "time": "08:05:09 PM",
        "relative": "in 5 minutes",
    }
    assert formats["zh-CN"] == {
        "lang": "zh-CN",
        "money": "¥12.30",
        "usd": "$12.30",
        "dateTime": "2026年12月6日 20:05",
        "time": "20:05:09",
        "relative": "5分钟后",
    }


async def test_the_guide_workspace_follows_the_brand_then_lang(
    server: LiveServer, profile: Profile
) -> None:
    """An English browser opens the guide workspace of a zh-CN brand in Chinese; ?lang=en
    overrides the brand; the SDK's sentences for error codes follow the page."""
    admin = server.token("admin", "ada")
    async with server.client(admin) as brand:
        answer = await brand.put("/api/brands/me/policy", json={"language": "zh-CN"})
        assert answer.status_code == 200, answer.text
    await open_session(server)
    guide = server.token("guide", "wei", name="小伟")
    context = await profile("en-US")
    chinese = await open_page(context, f"{server.base_url}/guide?token={guide}")
    await expect(chinese.page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(chinese.page.locator("#share-card h2")).to_have_text("我的分享链接")
    commission = chinese.page.locator('[data-i18n="guide.my_commission"]')
    await expect(commission).to_have_text("我的佣金")
    assert await chinese.page.evaluate("LiveClient.describe('sold_out')") == "已抢光"
    english = await open_page(context, f"{server.base_url}/guide?lang=en&token={guide}")
    await expect(english.page.locator("html")).to_have_attribute("lang", "en")
    await expect(english.page.locator("#share-card h2")).to_have_text("My share link")
    assert await english.page.evaluate("LiveClient.describe('sold_out')") == "Sold out."
    assert [*chinese.errors, *english.errors] == []
