"""The client SDK in a real browser: reconnection with `since` recovery across a server
restart, the wx.connectSocket adapter, and host-facing words for every catalog code."""

import re
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from common.errors import Code
from tests.support.servers import LiveServer, cluster, start_server
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 20_000 * UNIT_S
SDK = Path(__file__).parents[2] / "live" / "static" / "live-client.js"

# The SocketTask API of mini programs (wx.connectSocket), over the browser's WebSocket: what
# the wx adapter is written against (https://developers.weixin.qq.com, SocketTask).
WX_SHIM = """
window.wxShim = {connectSocket({url}) {
  const ws = new WebSocket(url);
  return {
    onOpen(cb) { ws.addEventListener("open", () => cb({header: {}})); },
    onMessage(cb) { ws.addEventListener("message", (e) => cb({data: e.data})); },
    onClose(cb) { ws.addEventListener("close", (e) => cb({code: e.code, reason: e.reason})); },
    onError(cb) { ws.addEventListener("error", () => cb({errMsg: "error"})); },
    send({data}) { ws.send(data); },
    close({code, reason}) { ws.close(code, reason); },
  };
}};
"""

JOIN = """
({wsUrl, token, wx}) => {
  window.frames_ = []; window.urls_ = []; window.states_ = [];
  const base = wx ? LiveClient.wxTransport(window.wxShim) : LiveClient.browserTransport();
  const transport = {open(url, h) { window.urls_.push(url); return base.open(url, h); }};
  window.room_ = LiveClient.connect({wsUrl, token, transport, baseDelayMs: 100, maxDelayMs: 500});
  window.room_.on("*", (f) => window.frames_.push(f));
  window.room_.on("state", (s) => window.states_.push(s.state));
}
"""


async def _sdk_page(context: BrowserContext, base_url: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{base_url}/healthz")  # any page of the server's origin
    await page.add_script_tag(url="/static/live-client.js")
    await page.add_script_tag(content=WX_SHIM)
    return page


async def _frames(page: Page) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = await page.evaluate("window.frames_")
    return frames


async def test_reconnect_after_a_server_restart_recovers_missed_events_with_since(
    tmp_path: Path, database_url: str, redis_url: str, context: BrowserContext
) -> None:
    """The page's node stops; the host pins and drops a coupon through another node; the node
    comes back on the same port and the SDK rejoins with since=<seq>: the missed pin and coupon
    arrive once each, in seq order, without a new snapshot."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        opened = await open_session(nodes[1])
        page = await _sdk_page(context, nodes[0].base_url)
        ws_url = f"ws://127.0.0.1:{nodes[0].port}/ws/sessions/{opened.session_id}"
        token = nodes[0].token("viewer", "vic")
        await page.evaluate(JOIN, {"wsUrl": ws_url, "token": token, "wx": False})
        await page.wait_for_function(
            "window.frames_.some((f) => f.type === 'snapshot')", timeout=WAIT_MS
        )
        snapshot = next(f for f in await _frames(page) if f["type"] == "snapshot")

        await nodes[0].stop()
        await page.wait_for_function("window.states_.includes('waiting')", timeout=WAIT_MS)
        async with nodes[1].client(opened.host_token) as host:
            session = f"/api/sessions/{opened.session_id}"
            pin = await host.post(f"{session}/pin", json={"product_id": opened.product_id})
            assert pin.status_code == 200, pin.text
            coupon = await host.post(
                f"{session}/coupons",
                json={"title": "10 off", "kind": "amount_off", "value": 1000, "quantity": 5},
            )
            assert coupon.status_code == 201, coupon.text
        nodes[0] = await start_server(nodes[0].settings, port=nodes[0].port)

        await page.wait_for_function(
            "window.frames_.some((f) => f.type === 'coupon')", timeout=WAIT_MS
        )
        frames = await _frames(page)
        urls: list[str] = await page.evaluate("window.urls_")
        assert f"since={snapshot['seq']}" in urls[-1]
        assert f"epoch={snapshot['epoch']}" in urls[-1]
        durable = [f for f in frames if "seq" in f]
        assert [(f["type"], f["seq"]) for f in durable] == [
            ("snapshot", snapshot["seq"]),
            ("pin", snapshot["seq"] + 1),
            ("coupon", snapshot["seq"] + 2),
        ]
        assert durable[1]["product_id"] == opened.product_id
        assert durable[2]["coupon_id"] == coupon.json()["coupon_id"]
        states: list[str] = await page.evaluate("window.states_")
        # Listeners come after connect() announced "connecting": the first state seen is open.
        assert states[0] == "open"
        assert "waiting" in states
        assert states[-1] == "open"


async def test_the_wx_adapter_joins_comments_and_reports_refusals_in_words(
    tmp_path: Path, database_url: str, redis_url: str, context: BrowserContext
) -> None:
    """Over the SocketTask API the room gets its snapshot, a comment is acked, and a claim of
    an unknown coupon is refused with the catalog code and a sentence for people."""
    async with cluster(tmp_path, 1, database_url=database_url, redis_url=redis_url) as nodes:
        opened = await open_session(nodes[0])
        page = await _sdk_page(context, nodes[0].base_url)
        ws_url = f"ws://127.0.0.1:{nodes[0].port}/ws/sessions/{opened.session_id}"
        token = nodes[0].token("viewer", "mia")
        await page.evaluate(JOIN, {"wsUrl": ws_url, "token": token, "wx": True})
        await page.wait_for_function(
            "window.frames_.some((f) => f.type === 'snapshot')", timeout=WAIT_MS
        )
        ack = await page.evaluate("window.room_.comment('hello from wx')")
        assert ack["type"] == "ack"
        assert ack["text"] == "hello from wx"
        refused = await page.evaluate(
            "window.room_.claim('cpn_nope')"
            ".then(() => null, (e) => ({code: e.code, message: e.message}))"
        )
        assert refused == {
            "code": "not_found",
            "message": "That no longer exists (or belongs to another brand).",
        }


def test_every_catalog_code_has_words_for_people() -> None:
    """The SDK's MESSAGES table names each code of common/errors.py (and nothing else but
    the client's own ``network``)."""
    source = SDK.read_text(encoding="utf-8")
    table = source[
        source.index("const MESSAGES = {") : source.index("};", source.index("const MESSAGES"))
    ]
    named = set(re.findall(r"^\s+(\w+): \"", table, flags=re.MULTILINE))
    assert named == {code.value for code in Code} | {"network"}


async def test_backoff_waits_a_random_time_under_a_doubling_cap(
    server: LiveServer, context: BrowserContext
) -> None:
    """Full jitter: the delay is random in [0, min(max, base * 2^attempt)]."""
    page = await _sdk_page(context, server.base_url)
    caps = await page.evaluate(
        "[0, 1, 2, 3, 4, 5, 6, 10]"
        ".map((n) => LiveClient.backoffDelay(n, 500, 15000, () => 0.99999))"
    )
    assert caps == [499, 999, 1999, 3999, 7999, 14999, 14999, 14999]
    lowest = await page.evaluate("LiveClient.backoffDelay(6, 500, 15000, () => 0)")
    assert lowest == 0
