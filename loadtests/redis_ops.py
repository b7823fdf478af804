"""Redis commands per event: what one pin, comment, order and payment cost the shared Redis.

Starts a private Valkey and one `live serve` on it (shared mode, SQLite record, production
tick and archive settings, loopback only), opens a live session with ``--viewers`` room
sockets, then for each kind of event resets Valkey's command statistics, sends ``--events``
of that kind, waits for the work they cause (fan-out, archive, ticks) to settle, and reads
``INFO commandstats``. The commands the node issues anyway (presence, archive polls, reapers,
the stock check) are measured over an idle interval first and subtracted.

    .venv/bin/python -m loadtests.redis_ops --viewers 50 --events 150
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node
from loadtests.live_node import SECRET
from loadtests.ports import free_port

BRAND = "ops"
#: Time given to the work an event causes (ticks, fan-out, archive segments) to finish.
SETTLE_S = 6.0


@contextlib.contextmanager
def _server(valkey: EmbeddedValkey, data: Path, port: int) -> Iterator[None]:
    env = live_node.node_env(
        data,
        valkey.url,
        {
            "LIVE_WRITE_RATE_PER_S": "100000",
            "LIVE_WRITE_BURST": "100000",
            "LIVE_ACCESS_LOG": "false",
        },
    )
    server = subprocess.Popen(  # noqa: S603 - our own program
        live_node.serve_command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        server.terminate()
        server.wait(timeout=20)


async def _commands(redis: Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def _measure(
    redis: Redis, act: Callable[[], Awaitable[None]], *, idle_per_s: dict[str, float]
) -> tuple[dict[str, float], float]:
    """Commands the act caused (background subtracted), and how long it took to settle."""
    await redis.config_resetstat()
    started = time.monotonic()
    await act()
    await asyncio.sleep(SETTLE_S)
    elapsed = time.monotonic() - started
    counts = await _commands(redis)
    # The statistics count the INFO and CONFIG commands of this program too.
    for own in ("info", "config|resetstat"):
        counts.pop(own, None)
    caused = {name: calls - idle_per_s.get(name, 0.0) * elapsed for name, calls in counts.items()}
    return {name: calls for name, calls in caused.items() if calls > 0.5}, elapsed


def _row(kind: str, caused: dict[str, float], events: int) -> str:
    total = sum(caused.values()) / events
    top = sorted(caused.items(), key=lambda item: -item[1])[:6]
    detail = ", ".join(f"{name} {calls / events:.2f}" for name, calls in top)
    return f"| {kind} | {events} | {total:.1f} | {detail} |"


async def run(viewers: int, events: int) -> list[str]:
    """Measure every kind of event; the markdown rows."""
    with tempfile.TemporaryDirectory() as tmp:
        valkey = EmbeddedValkey(Path(tmp) / "valkey", persistent=False)
        await asyncio.to_thread(valkey.start)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            with _server(valkey, Path(tmp) / "data", port):
                return await _run(valkey.url, base, port, viewers, events)
        finally:
            await asyncio.to_thread(valkey.stop)


async def _run(redis_url: str, base: str, port: int, viewers: int, events: int) -> list[str]:
    host = {"Authorization": f"Bearer {tokens.mint(SECRET, sub='h', role='host', brand=BRAND)}"}
    redis = Redis.from_url(redis_url)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(150):
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    break
            await asyncio.sleep(0.2)
        session_id = (await http.post("/api/sessions", json={"title": "ops"}, headers=host)).json()[
            "id"
        ]
        product = await http.post(
            f"/api/sessions/{session_id}/products",
            json={"sku": "S", "title": "Hat", "price_cents": 100, "stock": 1_000_000},
            headers=host,
        )
        product_id = product.json()["product_id"]
        await http.post(f"/api/sessions/{session_id}/start", headers=host)
        viewer_tokens = [
            tokens.mint(SECRET, sub=f"v{n}", role="viewer", brand=BRAND) for n in range(viewers)
        ]
        sockets: list[ClientConnection] = []
        readers: list[asyncio.Task[None]] = []

        async def drain(ws: ClientConnection) -> None:
            with contextlib.suppress(Exception):
                async for _ in ws:
                    pass

        for token in viewer_tokens:
            ws = await connect(
                f"ws://127.0.0.1:{port}/ws/sessions/{session_id}?token={token}", compression=None
            )
            sockets.append(ws)
            readers.append(asyncio.create_task(drain(ws)))
        await asyncio.sleep(SETTLE_S)

        await redis.config_resetstat()
        idle_s = 10.0
        await asyncio.sleep(idle_s)
        idle = await _commands(redis)
        idle_per_s = {name: calls / idle_s for name, calls in idle.items()}
        rows = [
            f"| idle node, {viewers} viewers (per second) | — | "
            f"{sum(idle_per_s.values()) - idle_per_s.get('info', 0):.1f} | "
            + ", ".join(
                f"{name} {rate:.1f}"
                for name, rate in sorted(idle_per_s.items(), key=lambda item: -item[1])[:6]
                if name != "info"
            )
            + " |"
        ]

        async def pins() -> None:
            for n in range(events):
                if n % 2:
                    await http.delete(f"/api/sessions/{session_id}/pin", headers=host)
                else:
                    await http.post(
                        f"/api/sessions/{session_id}/pin",
                        json={"product_id": product_id},
                        headers=host,
                    )

        async def comments() -> None:
            # At most 3 per viewer: the comment rate limit's burst.
            for n in range(events):
                ws = sockets[n % len(sockets)]
                await ws.send(orjson.dumps({"type": "comment", "text": f"c{n}"}).decode())
                await asyncio.sleep(0.01)

        placed: list[tuple[str, int]] = []

        async def orders() -> None:
            for n in range(events):
                answer = await http.post(
                    f"/api/sessions/{session_id}/orders",
                    json={"product_id": product_id, "qty": 1},
                    headers={
                        "Authorization": f"Bearer {viewer_tokens[n % len(viewer_tokens)]}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                order = answer.json()
                placed.append((order["order_id"], order["amount_cents"]))

        async def payments() -> None:
            for order_id, amount_cents in placed:
                body = orjson.dumps(
                    {
                        "order_id": order_id,
                        "paid_amount_cents": amount_cents,
                        "provider_txn_id": uuid.uuid4().hex,
                    }
                )
                signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                await http.post(
                    "/api/payments/notify",
                    content=body,
                    headers={"X-Signature": signature, "Content-Type": "application/json"},
                )

        for kind, act in (
            (f"pin or unpin (HTTP), {viewers} viewers in the room", pins),
            (f"comment (room socket), {viewers} viewers in the room", comments),
            ("order (reserve, record, announce)", orders),
            ("payment notification (commit the hold)", payments),
        ):
            caused, _ = await _measure(redis, act, idle_per_s=idle_per_s)
            rows.append(_row(kind, caused, events))
        for ws in sockets:
            await ws.close()
        for reader in readers:
            reader.cancel()
    await redis.aclose()
    return rows


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--events", type=int, default=150)
    args = parser.parse_args()
    rows = asyncio.run(run(args.viewers, args.events))
    print("| event | events | Redis commands per event | most frequent commands per event |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
