"""Secrets never reach the logs: a run with tokens (HTTP and room socket URLs), payment
signatures, bad tokens and errors, logged at DEBUG through the production log config."""

import io
import logging
import logging.config
from collections.abc import Iterator

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from live.platform import logs
from tests.support.clients import Room, sign
from tests.support.servers import PAYMENT_SECRET, SECRET, LiveServer, ServerWith
from tests.support.sessions import open_session

_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "live", "realtime", "replay")


@pytest.fixture(params=["json", "text"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """Every log record of the process at DEBUG, formatted as ``live serve`` does."""
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate)
        for name in _LOGGERS
        for logger in [logging.getLogger(name)]
    }
    sink = io.StringIO()
    config = logs.config(request.param, level="DEBUG")
    config["handlers"]["stderr"] = {
        "class": "logging.StreamHandler",
        "formatter": "live",
        "filters": ["denials"],
    }
    logging.config.dictConfig(config)
    root = logging.getLogger()
    root.handlers[0].setStream(sink)  # type: ignore[attr-defined]
    try:
        yield sink
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


async def test_no_secret_appears_in_any_log_line(server: LiveServer, captured: io.StringIO) -> None:
    """Tokens, signatures and the two secrets appear nowhere in the captured logs."""
    logging.getLogger("uvicorn.error").info(
        'simulated uvicorn line: "WebSocket /ws/sessions/s?token=%s" [accepted]',
        server.token("viewer", "quoted"),
    )
    opened = await open_session(server)
    viewer_token = server.token("viewer", "v-secret-test")
    room = await Room.join(server.ws_url(opened.session_id, viewer_token, share="sharecode123"))
    await room.wait_type("snapshot")
    async with server.client(viewer_token) as viewer:
        order = await viewer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "k1", "X-Request-Id": "req-abc"},
        )
        assert order.status_code == 201, order.text
        assert order.headers["x-request-id"] == "req-abc"
    body = orjson.dumps(
        {"order_id": order.json()["order_id"], "paid_amount_cents": 1, "provider_txn_id": "t1"}
    )
    signature = sign(body)
    async with server.client() as provider:
        wrong = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": signature[::-1]}
        )
        assert wrong.status_code in {401, 409}
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": signature}
        )
        assert paid.status_code in {200, 409}
    expired_like = server.token("viewer", "late") + "tampered"
    bad = await Room.join(server.ws_url(opened.session_id, expired_like))
    assert (await bad.next_frame())["code"] == "token_invalid"
    await room.close()
    output = captured.getvalue()
    assert "req-abc" in output, "the run must have logged something to check"
    for secret in (SECRET, PAYMENT_SECRET, viewer_token, opened.host_token, signature):
        assert secret not in output
    assert "sharecode123" not in output
    for fragment in (viewer_token.split(".")[1], signature[:16], expired_like.split(".")[2]):
        assert fragment not in output


@pytest.fixture
async def origin_guarded(server_with: ServerWith) -> LiveServer:
    """A node refusing foreign origins (started before `captured` reconfigures logging)."""
    return await server_with(allowed_origins=("https://shop.example.com",))


async def test_refused_upgrades_log_one_access_line_and_no_error(
    origin_guarded: LiveServer, captured: io.StringIO
) -> None:
    """A refused Origin leaves a 403 access line, not uvicorn's handshake error."""
    opened = await open_session(origin_guarded)
    url = origin_guarded.ws_url(opened.session_id, origin_guarded.token("viewer", "v"))
    with pytest.raises(InvalidStatus):
        await connect(url, origin="https://evil.example.net")  # type: ignore[arg-type]
    output = captured.getvalue()
    assert f"WS /ws/sessions/{opened.session_id} 403" in output
    assert "without completing handshake" not in output
