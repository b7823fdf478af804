"""Waitlists in Redis: per product, the viewers waiting for a unit in queue order, and the
offers that hand returned units to them.

Contract: a queue is a sorted set viewer id -> position (the entry's id in the record), so a
viewer waits once per product and the lowest position comes first. `offer` is one Lua call:
it takes one available unit and the queue's head together and makes the unit a hold of that
viewer until the offer's expiry, so each unit is offered once, in queue order, whatever the
number of nodes making offers. While viewers wait, a reserve leaves one unit per waiting viewer
alone (`inventory.stock`), so units that come back reach the queue before anybody else.
A viewer whose per-viewer limit leaves no room is taken out of the queue and reported skipped.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis

from common.redis_errors import translated
from inventory import keys
from inventory.errors import InventoryUnavailable
from inventory.scripts import Scripts


class NoOffer(StrEnum):
    """Why `Waitlists.offer` made no offer."""

    #: Nobody waits.
    NOBODY = "none"
    #: No unit is available (or the open sale's cap is used up).
    EMPTY = "empty"
    #: The product's stock is not loaded (sales paused while Redis is rebuilt).
    NOT_LOADED = "not_loaded"
    #: The caller's terms are older than the session's terms version.
    STALE_TERMS = "stale_terms"


@dataclass(frozen=True, slots=True)
class Offered:
    """A unit now held for ``viewer_id`` (waiting at ``position``), under the offer's order id;
    ``stock_left`` as of change ``version``, from counters of rebuild ``generation``."""

    viewer_id: str
    position: int
    stock_left: int
    generation: int
    version: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """The head of the queue left it without an offer: its per-viewer limit is reached."""

    viewer_id: str
    position: int


@dataclass(frozen=True, slots=True)
class Standing:
    """A product's queue as one viewer sees it: viewers ahead (None: not in it), and all."""

    ahead: int | None
    waiting: int


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Waitlists:
    """The waitlists of every session, on one Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._scripts = Scripts.register(redis)

    async def add(self, session_id: str, product_id: str, viewer_id: str, position: int) -> None:
        """Put a viewer in a product's queue at ``position`` (nothing if it is there already)."""
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zadd(keys.waitlist(session_id, product_id), {viewer_id: position}, nx=True)
                pipe.sadd(keys.waitlisted(session_id), product_id)
                # Another Cluster slot than the session's keys: not in one transaction.
                pipe.sadd(keys.SESSIONS_WITH_WAITLISTS, session_id)
                await pipe.execute()

    async def remove(self, session_id: str, product_id: str, viewer_id: str) -> None:
        """Take a viewer out of a product's queue (nothing if it is not there)."""
        with translated(into=InventoryUnavailable):
            await self._redis.zrem(keys.waitlist(session_id, product_id), viewer_id)

    async def standing(self, session_id: str, product_id: str, viewer_id: str) -> Standing:
        """How many wait ahead of ``viewer_id``, and in all."""
        queue = keys.waitlist(session_id, product_id)
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrank(queue, viewer_id)
                pipe.zcard(queue)
                rank, total = await pipe.execute()
        return Standing(ahead=None if rank is None else int(rank), waiting=int(total))

    async def lengths(self, session_id: str, product_ids: list[str]) -> dict[str, int]:
        """Viewers waiting per product."""
        if not product_ids:
            return {}
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=False) as pipe:
                for product_id in product_ids:
                    pipe.zcard(keys.waitlist(session_id, product_id))
                counts = await pipe.execute()
        return {p: int(n) for p, n in zip(product_ids, counts, strict=True)}

    async def available(
        self, session_id: str, product_id: str, *, sale_id: str | None
    ) -> tuple[int | None, int]:
        """Units a new order could take now (stock, and the open sale's cap, beyond one unit
        per waiting viewer; None when not loaded), and the viewers waiting."""
        fields = [product_id] + ([keys.sale_field(sale_id)] if sale_id else [])
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(keys.stock(session_id), fields)
                pipe.zcard(keys.waitlist(session_id, product_id))
                levels, waiting = await pipe.execute()
        if any(level is None for level in levels):
            return None, int(waiting)
        return min(int(level) for level in levels) - int(waiting), int(waiting)

    async def products(self, session_id: str) -> list[str]:
        """The session's products that have (or had) a waitlist."""
        with translated(into=InventoryUnavailable):
            members = await self._redis.smembers(keys.waitlisted(session_id))
        return sorted(_text(member) for member in members)

    async def sessions(self) -> list[str]:
        """Sessions that have (or had) a waitlist."""
        with translated(into=InventoryUnavailable):
            members = await self._redis.smembers(keys.SESSIONS_WITH_WAITLISTS)
        return sorted(_text(member) for member in members)

    async def forget_session(self, session_id: str) -> None:
        """Stop sweeping a session (it ended, or never existed here)."""
        with translated(into=InventoryUnavailable):
            await self._redis.srem(keys.SESSIONS_WITH_WAITLISTS, session_id)

    async def offer(
        self,
        session_id: str,
        product_id: str,
        *,
        order_id: str,
        expires_ms: int,
        limit_per_viewer: int | None,
        sale_id: str | None,
        terms_version: int,
    ) -> Offered | Skipped | NoOffer:
        """Offer one available unit to the head of the product's queue (see the module)."""
        script_keys = [
            keys.stock(session_id),
            keys.bought(session_id),
            keys.holds(session_id),
            keys.hold(session_id, order_id),
            keys.waitlist(session_id, product_id),
            keys.generations(session_id),
            keys.version(session_id),
            keys.terms(session_id),
        ]
        args: list[str | int] = [
            product_id,
            limit_per_viewer or 0,
            order_id,
            expires_ms,
            keys.sale_field(sale_id) if sale_id else "",
            terms_version,
        ]
        with translated(into=InventoryUnavailable):
            result = await self._scripts.offer(keys=script_keys, args=args)
        status = _text(result[0])
        if status == "err":
            return NoOffer(_text(result[1]))
        viewer_id, position = _text(result[1]), int(float(_text(result[2])))
        if status == "skipped":
            return Skipped(viewer_id, position)
        return Offered(viewer_id, position, int(result[3]), int(result[4]), int(result[5]))

    async def take(
        self,
        session_id: str,
        order_id: str,
        *,
        viewer_id: str,
        idempotency_key: str,
        recorded: str,
        idempotency_ttl_s: int,
        expires_ms: int,
    ) -> None:
        """An offer taken: its hold now lapses at ``expires_ms``, and the buyer's key answers
        the order (``recorded`` as the reserve script records it)."""
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(
                    keys.idempotency(session_id, viewer_id, idempotency_key),
                    recorded,
                    ex=idempotency_ttl_s,
                )
                pipe.zadd(keys.holds(session_id), {order_id: expires_ms}, xx=True)
                await pipe.execute()
