"""`room.buy` of the client SDK in a real browser: the order or a typed error, and one order
for a purchase whose socket dropped before its answer (the same key, sent again)."""

from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page
from sqlalchemy import select

from live.db.models import OrderRow
from live.db.unit import transaction
from tests.support.servers import cluster
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 20_000 * UNIT_S

# A transport that loses the first socket right after it sent the first buy: the buy reaches
# the server, its answer never reaches the SDK (as when a phone's network drops).
JOIN = """
({wsUrl, token}) => {
  window.sent_ = []; window.opens_ = 0;
  const base = LiveClient.browserTransport();
  let dropped = false;
  const transport = {open(url, h) {
    window.opens_ += 1;
    let deaf = false;
    const inner = base.open(url, Object.assign({}, h, {
      onMessage: (text) => { if (!deaf) h.onMessage(text); },
    }));
    return {
      send(text) {
        window.sent_.push(JSON.parse(text));
        inner.send(text);
        if (!dropped && text.includes('"type":"buy"')) {
          dropped = deaf = true;
          inner.close(4999, "network dropped");
        }
      },
      close: (code, reason) => inner.close(code, reason),
    };
  }};
  window.room_ = LiveClient.connect({wsUrl, token, transport, baseDelayMs: 100, maxDelayMs: 300});
  return new Promise((resolve) => window.room_.on("snapshot", () => resolve(true)));
}
"""


async def _room_page(context: BrowserContext, base_url: str, ws_url: str, token: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{base_url}/healthz")  # any page of the server's origin
    await page.add_script_tag(url="/static/live-client.js")
    await page.evaluate(JOIN, {"wsUrl": ws_url, "token": token})
    return page


async def test_a_buy_whose_socket_drops_is_sent_again_with_its_key_and_buys_once(
    tmp_path: Path, database_url: str, redis_url: str, context: BrowserContext
) -> None:
    """The first socket drops right after the buy; the SDK rejoins, sends the same key again
    and resolves with the one order the server made; a sold-out buy rejects with its code and
    words, and a new purchase gets a new key."""
    async with cluster(tmp_path, 1, database_url=database_url, redis_url=redis_url) as nodes:
        node = nodes[0]
        opened = await open_session(node, stock=1, limit=1)
        ws_url = f"ws://127.0.0.1:{node.port}/ws/sessions/{opened.session_id}"
        page = await _room_page(context, node.base_url, ws_url, node.token("viewer", "lin"))
        order: dict[str, Any] = await page.evaluate(
            "(productId) => window.room_.buy(productId, 1)", opened.product_id
        )
        assert (order["status"], order["product_id"]) == ("reserved", opened.product_id)
        sent: list[dict[str, Any]] = await page.evaluate("window.sent_")
        buys = [m for m in sent if m["type"] == "buy"]
        assert len(buys) >= 2
        assert len({m["key"] for m in buys}) == 1
        # The key's first send says so; the send after the drop is a retry and does not.
        assert buys[0].get("first") is True
        assert ["first" in m for m in buys[1:]] == [False] * (len(buys) - 1)
        assert await page.evaluate("window.opens_") >= 2
        async with transaction(node.context.db) as db:
            rows = list(await db.scalars(select(OrderRow).where(OrderRow.viewer_id == "lin")))
        assert [row.id for row in rows] == [order["order_id"]]

        other = await _room_page(context, node.base_url, ws_url, node.token("viewer", "mo"))
        refused = await other.evaluate(
            "(productId) => window.room_.buy(productId, 1)"
            ".then(() => null, (e) => ({code: e.code, message: e.message}))",
            opened.product_id,
        )
        assert refused == {"code": "sold_out", "message": "Sold out."}
        keys: list[str] = await other.evaluate(
            "window.sent_.filter((m) => m.type === 'buy').map((m) => m.key)"
        )
        assert len(set(keys)) == 1
        again = await other.evaluate(
            "(productId) => window.room_.buy(productId, 1).catch((e) => e.code)", opened.product_id
        )
        assert again == "sold_out"
        keys = await other.evaluate(
            "window.sent_.filter((m) => m.type === 'buy').map((m) => m.key)"
        )
        assert len(set(keys)) == 2, "a new purchase after a final answer has a key of its own"
