"""The SDK in a real browser honours a busy node's retry hint, with jitter, then joins."""

from playwright.async_api import BrowserContext

from tests.support.servers import ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

WAIT_MS = 20_000 * UNIT_S


async def test_a_refused_join_waits_for_the_hint_then_joins(
    server_with: ServerWith, context: BrowserContext
) -> None:
    """The node's only join turn is taken and its queue is 0: the SDK's join is refused with
    4103 and waits the hint plus at most one more hint (not its own short back-off); once the
    turn is free it joins and gets the snapshot."""
    server = await server_with(join_concurrency=1, join_queue=0, join_retry_ms=1500)
    opened = await open_session(server)
    held = await server.context.joins.enter()
    assert held is not None
    page = await context.new_page()
    await page.goto(f"{server.base_url}/healthz")
    await page.add_script_tag(url="/static/live-client.js")
    ws_url = server.ws_url(opened.session_id, server.token("viewer", "busy-1")).split("?")[0]
    await page.evaluate(
        """({wsUrl, token}) => {
          window.states_ = []; window.frames_ = [];
          window.room_ = LiveClient.connect({wsUrl, token, baseDelayMs: 10, maxDelayMs: 20});
          window.room_.on("state", (s) => window.states_.push(s));
          window.room_.on("*", (f) => window.frames_.push(f));
        }""",
        {"wsUrl": ws_url, "token": server.token("viewer", "busy-1")},
    )
    await page.wait_for_function(
        "window.states_.some((s) => s.state === 'waiting')", timeout=WAIT_MS
    )
    waiting = await page.evaluate("window.states_.find((s) => s.state === 'waiting')")
    assert waiting["code"] == 4103
    assert waiting["delayMs"] >= 1500  # the hint, not the SDK's own 10-20 ms back-off
    hint = await page.evaluate("(reason) => LiveClient.retryHintMs(reason)", waiting["reason"])
    assert hint >= 1500
    assert hint <= waiting["delayMs"] <= 2 * hint
    held.release()
    await page.wait_for_function(
        "window.frames_.some((f) => f.type === 'snapshot')", timeout=WAIT_MS
    )
