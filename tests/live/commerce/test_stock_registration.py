"""A session's first reserves on a node register it among the sessions with holds once, together.

The crowd of a flash sale's first second used to send one ``SADD`` each, and queued for the
pool's connections before any reserve went out.
"""

import asyncio
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from inventory import keys
from inventory.errors import InventoryUnavailable
from inventory.stock import Reserved, Stock


class CountedRedis(aioredis.Redis):
    """A client of the real server that counts its ``SADD`` calls, and can fail the next ones."""

    sadds = 0
    failing = 0

    async def sadd(self, name: Any, *values: Any) -> Any:
        """``SADD``, counted; refused as a lost connection while ``failing`` lasts."""
        self.sadds += 1
        await asyncio.sleep(0.01)  # the round trip the crowd waits for
        if self.failing:
            self.failing -= 1
            raise RedisConnectionError("the connection was lost")
        return await super().sadd(name, *values)


def _counted(url: str) -> CountedRedis:
    return cast(CountedRedis, CountedRedis.from_url(url))


async def _reserve(stock: Stock, session_id: str, n: int) -> Reserved:
    outcome = await stock.reserve(
        session_id,
        product_id="p1",
        viewer_id=f"v{n}",
        qty=1,
        limit_per_viewer=1,
        order_id=f"o{n}",
        expires_ms=2**40,
        idempotency_key=f"k{n}",
        request_hash="h",
    )
    assert isinstance(outcome, Reserved), outcome
    return outcome


async def _registered(client: aioredis.Redis, session_id: str) -> bool:
    return bool(await client.sismember(keys.SESSIONS_WITH_HOLDS, session_id))


async def test_a_crowd_of_first_reserves_registers_the_session_once(
    redis_url: str, unique_id: str
) -> None:
    """Fifty reserves at once, the session's first on this node: one ``SADD``, every unit held,
    and the session listed before any of them answers."""
    client = _counted(redis_url)
    try:
        stock = Stock(client)
        session_id = f"ses_{unique_id}"
        await stock.load(session_id, "p1", 100)
        outcomes = await asyncio.gather(*(_reserve(stock, session_id, n) for n in range(50)))
        assert sorted(outcome.stock_left for outcome in outcomes) == list(range(50, 100))
        assert client.sadds == 1
        assert await _registered(client, session_id)
        await _reserve(stock, session_id, 50)
        assert client.sadds == 1
    finally:
        await client.aclose()


async def test_a_registration_that_failed_is_tried_again(redis_url: str, unique_id: str) -> None:
    """The crowd waiting for a failed ``SADD`` is refused with nothing held; the next reserve
    registers the session and holds its unit."""
    client = _counted(redis_url)
    try:
        stock = Stock(client)
        session_id = f"ses_{unique_id}"
        await stock.load(session_id, "p1", 10)
        client.failing = 1
        refused = await asyncio.gather(
            *(_reserve(stock, session_id, n) for n in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, InventoryUnavailable) for outcome in refused), refused
        assert client.sadds == 1
        assert not await _registered(client, session_id)
        assert await stock.levels(session_id) == {"p1": 10}
        assert (await _reserve(stock, session_id, 5)).stock_left == 9
        assert client.sadds == 2
        assert await _registered(client, session_id)
    finally:
        await client.aclose()
