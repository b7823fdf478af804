"""`Slots`: a brand's concurrency limit on deliveries in flight, held in Redis over every node.

Contract: at most ``limit`` deliveries of one brand are in flight at once, whichever nodes send
them. A slot expires with the delivery's lease, so a node that dies holding slots frees them
when its leases run out. A slow or failing endpoint thus holds at most its brand's slots, and
other brands' deliveries go on beside it.
"""

from importlib import resources

from redis.asyncio import Redis

from common.redis_errors import translated
from live.webhooks.errors import WebhooksUnavailable


def _key(brand: str) -> str:
    # The brand is the hash tag: the set lives in one slot of a Redis Cluster.
    return f"webhooks:{{{brand}}}:in_flight"


_SOURCE = resources.files("live.webhooks").joinpath("lua", "slot_acquire.lua").read_text("utf-8")


class Slots:
    """Delivery slots per brand, ``limit`` each."""

    def __init__(self, redis: Redis, *, limit: int, owner: str) -> None:
        self.limit = limit
        # A slot names its node too: lanes are named per node, and nothing of one node may
        # give another node's slot back.
        self._owner = owner
        self._redis = redis
        self._acquire = redis.register_script(_SOURCE)

    async def acquire(self, brand: str, lane: str, *, now_ms: int, until_ms: int) -> bool:
        """Take (or keep) a slot of ``brand`` for ``lane`` until ``until_ms``; False when full."""
        with translated(into=WebhooksUnavailable):
            taken = await self._acquire(
                keys=[_key(brand)],
                args=[f"{lane}@{self._owner}", now_ms, until_ms, self.limit],
            )
        return bool(taken)

    async def release(self, brand: str, lane: str) -> None:
        """Give the slot of ``lane`` back."""
        with translated(into=WebhooksUnavailable):
            await self._redis.zrem(_key(brand), f"{lane}@{self._owner}")
