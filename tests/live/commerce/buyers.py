"""Crowds of buyers for the sale tests: each retries its own key until it gets a final answer.

The crowd uses aiohttp rather than httpx: httpcore looks up the running async library (a failed
``import trio``) several times per request and scans its whole queue on every hand-off, which
costs more CPU than the server under test once thousands of requests are queued.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from tests.support.servers import LiveServer
from tests.support.units import UNIT_S

#: Answers after which a buyer tries again with the same key (Redis away, sales paused).
RETRIED = {"sale_paused", "unavailable", "request_in_progress"}
FINAL = {"sold_out", "limit_exceeded"}


@dataclass
class Outcome:
    """What the crowd got: order ids per buyer, refusal codes, and attempts made."""

    orders: dict[str, set[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    attempts: int = 0


async def crowd(
    nodes: Sequence[LiveServer],
    session_id: str,
    product_id: str,
    *,
    buyers: int,
    repeat_every: int = 0,
    in_flight: int = 64,
    deadline_s: float = 60 * UNIT_S,
    prefix: str = "b",
) -> Outcome:
    """``buyers`` viewers each buy one unit once, spread over ``nodes``.

    Every ``repeat_every``-th buyer (none when 0) sends its request twice at once with the same
    key (a client retrying); each keeps retrying while the answer says so, until a final answer
    or the deadline.
    """
    outcome = Outcome()
    gate = asyncio.Semaphore(in_flight)
    clients = [
        aiohttp.ClientSession(
            base_url=node.base_url,
            timeout=aiohttp.ClientTimeout(total=30 * UNIT_S),
            connector=aiohttp.TCPConnector(limit=in_flight),
        )
        for node in nodes
    ]
    tokens = [nodes[0].token("viewer", f"{prefix}{n}") for n in range(buyers)]
    stop_at = asyncio.get_running_loop().time() + deadline_s

    async def attempt(n: int) -> None:
        viewer = f"{prefix}{n}"
        client = clients[n % len(clients)]
        while asyncio.get_running_loop().time() < stop_at:
            async with gate:
                outcome.attempts += 1
                try:
                    async with client.post(
                        f"/api/sessions/{session_id}/orders",
                        json={"product_id": product_id, "qty": 1},
                        headers={
                            "Authorization": f"Bearer {tokens[n]}",
                            "Idempotency-Key": f"key-{viewer}",
                        },
                    ) as answer:
                        status, body = answer.status, await answer.json()
                except aiohttp.ClientError:
                    continue
            if status == 201:
                outcome.orders.setdefault(viewer, set()).add(body["order_id"])
                return
            code = body["error"]["code"]
            if code in FINAL:
                outcome.refused[viewer] = code
                return
            assert code in RETRIED, body
            await asyncio.sleep(0.05 * UNIT_S)  # a client's back-off before retrying
        raise AssertionError(f"{viewer} got no final answer in {deadline_s} s")

    try:
        repeated = [n for n in range(buyers) if repeat_every and n % repeat_every == 0]
        await asyncio.gather(*(attempt(n) for n in [*range(buyers), *repeated]))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return outcome
