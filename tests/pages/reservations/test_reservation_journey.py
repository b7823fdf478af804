"""Reservations in Chromium (issue 19, parts 1 and 5): a viewer opens a guide's link to a
scheduled session on a phone, sees the countdown page and reserves (预约); the reminder webhook
reaches the brand's receiver; once the host starts, the viewer opens the reminder's link and
joins the room; after the end the guide's workspace lists who reserved and never came and who
came and did not buy, with copyable links. The host panel schedules a draft and shows the
reservations. Screenshots of each step are written to the test's folder (``SHOTS`` keeps
them under docs/screenshots when set)."""

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from live.cli import demo_pictures
from live.platform.settings import Settings
from tests.live.reservations.scheduling import reserve, schedule, share_of
from tests.live.webhooks.conftest import FAST
from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.pages.browsing import open_page
from tests.pages.conftest import LAPTOP
from tests.pages.shop.conftest import PHONE
from tests.support.polling import eventually
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.units import UNIT_S

WAIT_MS = 20_000 * UNIT_S


def _settings(data_dir: Path, database_url: str, redis_url: str) -> Settings:
    return settings_for(
        data_dir, database_url=database_url, redis_url=redis_url, reminder_poll_ms=50, **FAST
    )


@pytest.fixture
async def reminding(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    """The app with the compressed webhook schedule and reminders looked for every 50 ms."""
    server = await start_server(_settings(data_dir, database_url, redis_url))
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def node_b(
    reminding: LiveServer, tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """A second node on the same engines, serving the same brand (the guide's)."""
    server = await start_server(_settings(tmp_path / "node-b", database_url, redis_url))
    server.brand = reminding.brand
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The brand's webhook receiver."""
    served = Receiver()
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


async def _phone(browser: Browser) -> BrowserContext:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    return context


async def _shot(page: Page, folder: Path, name: str) -> None:
    """A screenshot of the page, into ``SHOTS`` when set (the docs' folder), else the test's."""
    target = Path(os.environ.get("SHOTS", folder))
    await page.screenshot(path=str(target / f"{name}.png"))


async def _pictures(server: LiveServer, session_id: str, product_id: str) -> None:
    """A cover and a product image, uploaded as a host does (the media endpoints)."""
    cover = demo_pictures.picture("COVER", "Spring", width=750, height=900)
    shirt = demo_pictures.picture("SCARF", "Linen shirt")
    async with server.client(server.token("host", "hana")) as host:
        for path, image in (
            (f"/api/sessions/{session_id}/cover", cover),
            (f"/api/sessions/{session_id}/products/{product_id}/image", shirt),
        ):
            uploaded = await host.post(path, content=image, headers={"Content-Type": "image/png"})
            assert uploaded.status_code in (200, 201), uploaded.text


async def test_reserve_through_a_guide_link_get_reminded_join_and_show_up_in_the_follow_up(
    reminding: LiveServer, node_b: LiveServer, receiver: Receiver, browser: Browser, tmp_path: Path
) -> None:
    """The whole reservation loop on phones, in Simplified Chinese: the viewer on one node,
    the guide on another."""
    server = reminding
    await register(server, receiver, "crm", event_types=["session.reminder"])
    async with server.client(server.token("admin", "boss")) as admin:
        # Two hours ahead with a three-hour lead: the lead reminder is due at once.
        await admin.put("/api/brands/me/reminders", json={"lead_s": 3 * 3600})
        await admin.put("/api/org/guides/wei", json={"name": "Wei"})
    session_id, product_id = await schedule(server, in_s=2 * 3600, title="春季新品预告")
    await _pictures(server, session_id, product_id)
    code = await share_of(server, session_id, "wei")
    await reserve(server, session_id, "lin", share=code)  # reserves and never comes

    viewer_token = server.token("viewer", "mei", name="Mei")
    context = await _phone(browser)
    try:
        viewer = await open_page(
            context,
            f"{server.base_url}/watch/{session_id}?share={code}&lang=zh-CN&token={viewer_token}",
        )
        page = viewer.page
        await expect(page.locator("#title")).to_have_text("春季新品预告")
        await expect(page.locator("#reserve")).to_have_text("预约")
        await expect(page.locator("#count")).to_have_text("1人已预约")
        await expect(page.locator("#clock-h")).to_have_text("01")
        await expect(page.locator("#products li")).to_have_count(1)
        await expect(page.locator("#products .price")).to_contain_text("129")
        await _shot(page, tmp_path, "schedule-phone-zh")
        await page.locator("#reserve").click()
        await expect(page.locator("#reserve")).to_have_attribute("data-state", "reserved")
        await expect(page.locator("#reserve")).to_have_text("已预约 · 开播提醒你")
        await expect(page.locator("#count")).to_have_text("2人已预约")
        await _shot(page, tmp_path, "schedule-reserved-phone-zh")
        english = await open_page(context, f"{server.base_url}/watch/{session_id}?lang=en")
        await expect(english.page.locator("#reserve")).to_have_text("Reserved · reminder set")
        await expect(english.page.locator("#count")).to_have_text("2 reserved")
        await _shot(english.page, tmp_path, "schedule-reserved-phone-en")
        assert english.errors == []
        await english.page.close()

        reminded = await receiver.wait_for("crm", 2, timeout_s=15 * UNIT_S)
        mine = [d.payload["data"] for d in reminded if d.payload["data"]["viewer_id"] == "mei"]
        assert [(m["kind"], m["guide_id"]) for m in mine] == [("lead", "wei")]

        guide_token = server.token("guide", "wei", name="Wei", store="s1")
        before = await open_page(context, f"{node_b.base_url}/guide?lang=zh-CN&token={guide_token}")
        await expect(before.page.locator("#reservations-count")).to_have_text("2人通过你预约")
        await expect(before.page.locator('#reservations li[data-viewer-id="mei"]')).to_contain_text(
            "Mei"
        )
        await _shot(before.page, tmp_path, "guide-reservations-phone-zh")
        assert before.errors == []
        await before.page.close()

        async with server.client(server.token("host", "hana")) as host:
            await host.post(f"/api/sessions/{session_id}/start")
        await receiver.wait_until(
            lambda: any(
                d.payload["data"]["kind"] == "start" and d.payload["data"]["viewer_id"] == "mei"
                for d in receiver.of("crm")
            ),
            timeout_s=15 * UNIT_S,
        )
        start = next(
            d.payload["data"]
            for d in receiver.of("crm")
            if d.payload["data"]["kind"] == "start" and d.payload["data"]["viewer_id"] == "mei"
        )
        # The reminder's link opens the live room now, with the guide's code.
        assert "share=" in start["link"]
        await page.goto(f"{server.base_url}{start['link']}&lang=zh-CN")
        await expect(page.locator("#stage")).to_be_visible()
        await expect(page.locator("#connection")).to_have_attribute(
            "data-state", "open", timeout=WAIT_MS
        )

        async def seen() -> bool:
            score = await server.context.redis.zscore(f"live:{{{session_id}}}:seen", "mei")
            return score is not None

        await eventually(seen, what="mei seen in the room")
        async with server.client(server.token("host", "hana")) as host:
            await host.post(f"/api/sessions/{session_id}/end")

        guide = await open_page(context, f"{node_b.base_url}/guide?lang=zh-CN&token={guide_token}")
        rows = guide.page.locator("#followups li.followup")
        await expect(rows).to_have_count(2)
        no_show = guide.page.locator('#followups li[data-kind="no_show"]')
        no_buy = guide.page.locator('#followups li[data-kind="no_buy"]')
        await expect(no_show).to_contain_text("预约未到场")
        await expect(no_show).to_contain_text("lin")
        await expect(no_buy).to_contain_text("到场未购买")
        await expect(no_buy).to_contain_text("Mei")
        link = await no_buy.locator("input").input_value()
        assert link.startswith(f"{node_b.base_url}/")
        assert "share=" in link
        await guide.page.locator("#followups").scroll_into_view_if_needed()
        await _shot(guide.page, tmp_path, "guide-followup-phone-zh")
        async with guide.page.expect_download() as downloading:
            await guide.page.locator("#followup-csv").click()
        download = await downloading.value
        saved = tmp_path / "no-shows.csv"
        await download.save_as(saved)
        lines = saved.read_text("utf-8").splitlines()
        assert lines[0].startswith("kind,session_id,viewer_id")
        assert sorted(line.split(",")[0] for line in lines[1:]) == ["no_buy", "no_show"]
        assert viewer.errors == []
        assert guide.errors == []
    finally:
        await context.close()


async def test_the_host_schedules_a_draft_and_sees_the_reservations(
    reminding: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """The schedule card gives a draft a start time (the badge says Scheduled, Start still
    works) and counts reservations per guide as viewers reserve."""
    server = reminding
    async with server.client(server.token("admin", "boss")) as admin:
        await admin.put("/api/org/guides/wei", json={"name": "Wei"})
    host_token = server.token("host", "hana", name="Hana")
    async with server.client(host_token) as host:
        draft = (await host.post("/api/sessions", json={"title": "Summer preview"})).json()
    context = await browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(WAIT_MS)
    try:
        panel = await open_page(
            context, f"{server.base_url}/host?session={draft['id']}&lang=en&token={host_token}"
        )
        page = panel.page
        await expect(page.locator("#schedule-state")).to_contain_text(
            "Give the session a start time"
        )
        starts = time.localtime(time.time() + 86_400)
        await page.locator("#schedule-at").fill(time.strftime("%Y-%m-%dT%H:%M", starts))
        await page.locator("#schedule-save").click()
        await expect(page.locator("#session-status")).to_have_text("Scheduled")
        await expect(page.locator("#start")).to_be_enabled()
        code = await share_of(server, draft["id"], "wei")
        for viewer in ("a", "b"):
            await reserve(server, draft["id"], viewer, share=code)
        await reserve(server, draft["id"], "c")
        await expect(page.locator("#reservation-total")).to_have_text("3", timeout=WAIT_MS)
        await expect(page.locator('#reservation-guides li[data-guide-id="wei"]')).to_contain_text(
            "Wei"
        )
        await expect(page.locator("#reservation-guides")).to_contain_text("without a guide: 1")
        await page.locator("#schedule-card").scroll_into_view_if_needed()
        await _shot(page, tmp_path, "host-schedule-laptop")
        assert panel.errors == []
    finally:
        await context.close()
