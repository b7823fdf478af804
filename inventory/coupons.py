"""Coupon claim counters in Redis: never more claims than the quantity or the per-viewer limit."""

from dataclasses import dataclass

from redis.asyncio import Redis

from common.autopipeline import pipeline_of
from common.redis_errors import translated
from inventory import keys
from inventory.errors import InventoryUnavailable
from inventory.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claim taken; ``left`` claims remain, as of change ``version`` (`keys.version`)."""

    left: int
    version: int


@dataclass(frozen=True, slots=True)
class Unclaimed:
    """A claim given back; ``left`` claims remain, as of change ``version``."""

    left: int
    version: int


@dataclass(frozen=True, slots=True)
class ClaimRefused:
    """No claim taken; ``code`` is one of not_found, coupon_expired, coupon_sold_out,
    coupon_limit_exceeded."""

    code: str


class CouponCounters:
    """Claim counters of every session's coupons, on one Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._scripts = Scripts.register(redis)

    async def open(
        self, session_id: str, coupon_id: str, *, quantity: int, expires_ms: int | None
    ) -> None:
        """Make a coupon claimable ``quantity`` times, until ``expires_ms`` if given."""
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.coupons_left(session_id), coupon_id, quantity)
                if expires_ms is not None:
                    pipe.hset(keys.coupon_expiry(session_id), coupon_id, expires_ms)
                await pipe.execute()

    async def claim(
        self, session_id: str, coupon_id: str, *, viewer_id: str, per_viewer_limit: int, now_ms: int
    ) -> Claimed | ClaimRefused:
        """Take one claim of a coupon for a viewer, or say why not."""
        script_keys = [
            keys.coupons_left(session_id),
            keys.coupons_claimed(session_id),
            keys.coupon_expiry(session_id),
            keys.version(session_id),
        ]
        with translated(into=InventoryUnavailable):
            result = await self._scripts.claim_coupon(
                keys=script_keys, args=[coupon_id, viewer_id, per_viewer_limit, now_ms]
            )
        status = result[0].decode() if isinstance(result[0], bytes) else str(result[0])
        if status == "ok":
            return Claimed(left=int(result[1]), version=int(result[2]))
        code = result[1].decode() if isinstance(result[1], bytes) else str(result[1])
        return ClaimRefused(code=code)

    async def unclaim(self, session_id: str, coupon_id: str, *, viewer_id: str) -> Unclaimed:
        """Give back a claim whose record could not be written."""
        script_keys = [
            keys.coupons_left(session_id),
            keys.coupons_claimed(session_id),
            keys.version(session_id),
        ]
        with translated(into=InventoryUnavailable):
            left, version = await self._scripts.unclaim_coupon(
                keys=script_keys, args=[coupon_id, viewer_id]
            )
        return Unclaimed(left=int(left), version=int(version))

    async def left(self, session_id: str) -> dict[str, int]:
        """Claims left per coupon of a session."""
        with translated(into=InventoryUnavailable):
            raw = await self._redis.hgetall(keys.coupons_left(session_id))
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}

    async def claims_of(
        self, session_id: str, viewer_id: str, coupon_ids: list[str]
    ) -> dict[str, int]:
        """How many times the viewer claimed each of ``coupon_ids`` (used or not; coupons never
        claimed are left out): one auto-pipelined HMGET, since every join asks."""
        if not coupon_ids:
            return {}
        fields = [f"{coupon_id}|{viewer_id}" for coupon_id in coupon_ids]
        with translated(into=InventoryUnavailable):
            counts = await pipeline_of(self._redis).execute(
                "HMGET", keys.coupons_claimed(session_id), *fields
            )
        return {
            coupon_id: int(count)
            for coupon_id, count in zip(coupon_ids, counts, strict=True)
            if count is not None and int(count) > 0
        }
