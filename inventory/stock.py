"""Stock in Redis: load, reserve, commit and release, each one atomic Lua call.

Contract: a reserve never takes more than the loaded stock and never lets a viewer exceed its
per-viewer limit; a retried reserve with the same idempotency key returns what the first call
recorded; a hold is released or committed exactly once whoever races for it.
"""

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from common.autopipeline import pipeline_of
from common.redis_errors import translated
from inventory import keys
from inventory.errors import InventoryUnavailable
from inventory.scripts import Scripts, versioned


class Refusal(StrEnum):
    """Why a reserve did not take stock."""

    SOLD_OUT = "sold_out"
    LIMIT_EXCEEDED = "limit_exceeded"
    NOT_LOADED = "not_loaded"
    STALE_TERMS = "stale_terms"


@dataclass(frozen=True, slots=True)
class Reserved:
    """A new hold: ``stock_left`` is the product's stock right after it.

    ``generation`` is the rebuild generation of the counters the units came from; the record
    accepts the order only while the product is still on that generation. ``version`` orders
    this change among the session's counter changes (`keys.version`).
    """

    order_id: str
    stock_left: int
    generation: int
    version: int
    #: Units left under the flash sale's cap after this hold (None: not in a sale).
    cap_left: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The reserve took nothing."""

    reason: Refusal
    #: For ``sold_out``: the session's change version (`keys.version`) the refusal was decided
    #: at; a stock event of this version or older was already counted in it.
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Repeated:
    """The idempotency key was used before; this is what that first call recorded."""

    order_id: str | None
    reason: Refusal | None
    request_hash: str


@dataclass(frozen=True, slots=True)
class Released:
    """A hold given back; ``stock_left`` is the product's stock after it, as of ``version``."""

    product_id: str
    stock_left: int
    version: int


ReserveOutcome = Reserved | Refused | Repeated


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _repeated(recorded: str) -> Repeated:
    kind, value, recorded_hash = recorded.split("|", 2)
    if kind == "ok":
        return Repeated(order_id=value, reason=None, request_hash=recorded_hash)
    return Repeated(order_id=None, reason=Refusal(value), request_hash=recorded_hash)


class Stock:
    """The stock of every session, on one Redis."""

    def __init__(self, redis: Redis, *, idempotency_ttl_s: int = 86_400) -> None:
        self._redis = redis
        self._scripts = Scripts.register(redis)
        # The flash-crowd path: concurrent reserves share one pipeline per loop turn.
        self._reserve = pipeline_of(redis).script(versioned("reserve"))
        self._idempotency_ttl_s = idempotency_ttl_s
        self._registered: set[str] = set()
        #: The one registration in flight per session, that its concurrent first reserves wait
        #: for (`_register`).
        self._registering: dict[str, asyncio.Task[None]] = {}

    async def load(self, session_id: str, product_id: str, available: int) -> int:
        """Set a product's available units (done when the product is added); returns the
        change version."""
        with translated(into=InventoryUnavailable):
            version = await self._scripts.load(
                keys=[keys.stock(session_id), keys.version(session_id)],
                args=[product_id, available],
            )
        return int(version)

    async def change_terms(self, session_id: str) -> int:
        """Record that the session's order terms changed; returns the new terms version."""
        with translated(into=InventoryUnavailable):
            version = await self._scripts.bump_terms(keys=[keys.terms(session_id)])
        return int(version)

    async def levels(self, session_id: str) -> dict[str, int]:
        """Available units per product of a session (and per open sale, ``sale:<id>``)."""
        with translated(into=InventoryUnavailable):
            raw = await self._redis.hgetall(keys.stock(session_id))
        return {_text(k): int(v) for k, v in raw.items()}

    async def reserve(
        self,
        session_id: str,
        *,
        product_id: str,
        viewer_id: str,
        qty: int,
        limit_per_viewer: int | None,
        order_id: str,
        expires_ms: int,
        idempotency_key: str,
        request_hash: str,
        sale_id: str | None = None,
        terms_version: int = 0,
    ) -> ReserveOutcome:
        """Hold ``qty`` units for ``viewer_id`` until ``expires_ms``, or say why not.

        One unit per viewer waiting for the product stays out of reach (``sold_out``): it is
        theirs to be offered (`inventory.waitlists`).

        With ``sale_id`` the units also come out of that flash sale's cap, and the per-viewer
        limit counts the viewer's units in the sale instead of in the product.
        ``terms_version`` is the session's terms version the caller read its terms at
        (`change_terms`); a different current version is refused with ``stale_terms``.
        """
        script_keys = [
            keys.stock(session_id),
            keys.bought(session_id),
            keys.holds(session_id),
            keys.hold(session_id, order_id),
            keys.idempotency(session_id, viewer_id, idempotency_key),
            keys.generations(session_id),
            keys.version(session_id),
            keys.terms(session_id),
            keys.waitlist(session_id, product_id),
        ]
        args: list[str | int] = [
            product_id,
            viewer_id,
            qty,
            limit_per_viewer or 0,
            order_id,
            expires_ms,
            self._idempotency_ttl_s,
            request_hash,
            keys.sale_field(sale_id) if sale_id else "",
            keys.sale_field(sale_id) if sale_id else "",
            terms_version,
        ]
        with translated(into=InventoryUnavailable):
            # Registered before the hold exists, so a crash right after the reserve still
            # leaves the hold where the reaper looks. Once per session and process: a rebuild
            # after a Redis loss registers its sessions again.
            if session_id not in self._registered:
                await self._register(session_id)
            result = await self._reserve(keys=script_keys, args=args)
        status = _text(result[0])
        if status == "ok":
            cap_left = int(result[5]) if len(result) > 5 else -1
            return Reserved(
                order_id=_text(result[1]),
                stock_left=int(result[2]),
                generation=int(result[3]),
                version=int(result[4]),
                cap_left=None if cap_left < 0 else cap_left,
            )
        if status == "err":
            version = int(result[2]) if len(result) > 2 else None
            return Refused(reason=Refusal(_text(result[1])), version=version)
        return _repeated(_text(result[1]))

    async def _register(self, session_id: str) -> None:
        """Add ``session_id`` to the sessions with holds; the first reserves of a flash crowd
        wait for one ``SADD`` together. (Each sending its own, the 200 first buyers of a
        10,000-for-500 sale queued for the pool's connections: about 80 ms before their
        reserves went out; docs/benchmarks.md, "The first reserves of a session, together".)
        A registration that failed is tried again by the next reserve."""
        registering = self._registering.get(session_id)
        if registering is None:
            registering = asyncio.create_task(self._add_session(session_id))
            # Its error is every waiter's; retrieved here too, for when they have all gone.
            registering.add_done_callback(lambda task: task.cancelled() or task.exception())
            self._registering[session_id] = registering
        # Shielded: a waiter that goes away (its client left) does not cancel the others'.
        await asyncio.shield(registering)

    async def _add_session(self, session_id: str) -> None:
        try:
            await self._redis.sadd(keys.SESSIONS_WITH_HOLDS, session_id)
            self._registered.add(session_id)
        finally:
            del self._registering[session_id]

    async def recorded(
        self, session_id: str, *, viewer_id: str, idempotency_key: str
    ) -> Repeated | None:
        """What an earlier reserve recorded under this key, or None."""
        with translated(into=InventoryUnavailable):
            raw = await self._redis.get(keys.idempotency(session_id, viewer_id, idempotency_key))
        return None if raw is None else _repeated(_text(raw))

    async def open_sale(self, session_id: str, sale_id: str, cap: int) -> None:
        """Load a flash sale's cap (done when the sale opens)."""
        with translated(into=InventoryUnavailable):
            await self._redis.hset(keys.stock(session_id), keys.sale_field(sale_id), cap)

    async def close_sale(self, session_id: str, sale_id: str) -> None:
        """Drop a closed sale's cap; holds taken in it release into nothing."""
        with translated(into=InventoryUnavailable):
            await self._redis.hdel(keys.stock(session_id), keys.sale_field(sale_id))

    async def forget(self, session_id: str, *, viewer_id: str, idempotency_key: str) -> None:
        """Drop the record of an idempotency key, so a retry starts over."""
        with translated(into=InventoryUnavailable):
            await self._redis.delete(keys.idempotency(session_id, viewer_id, idempotency_key))

    async def release(
        self, session_id: str, order_id: str, *, viewer_id: str = "", idempotency_key: str = ""
    ) -> Released | None:
        """Give a hold back; None when it was already released or committed.

        With ``idempotency_key`` the key's record is dropped too, so a retry may try again
        (used when the order could not be written after the reserve).
        """
        # Without a key to drop, the hold's own key fills the slot: an empty name would hash to
        # slot 0 and make the call cross-slot on Redis Cluster.
        if idempotency_key:
            idem = keys.idempotency(session_id, viewer_id, idempotency_key)
        else:
            idem = keys.hold(session_id, order_id)
        script_keys = [
            keys.stock(session_id),
            keys.bought(session_id),
            keys.holds(session_id),
            keys.hold(session_id, order_id),
            idem,
            keys.version(session_id),
        ]
        with translated(into=InventoryUnavailable):
            result = await self._scripts.release(
                keys=script_keys, args=[order_id, "1" if idempotency_key else "0"]
            )
        if int(result[0]) == 0:
            return None
        return Released(
            product_id=_text(result[1]), stock_left=int(result[2]), version=int(result[3])
        )

    async def give_back(
        self,
        session_id: str,
        product_id: str,
        units: int,
        *,
        counter: str = "",
        sale_id: str | None = None,
    ) -> Released:
        """Put ``units`` into a product's stock outside any hold (a refund before shipping,
        units the host added; negative to take some out), lowering the viewer ``counter``
        (``product|viewer``) and the open sale's cap when given. A paused session stays paused.
        """
        script_keys = [keys.stock(session_id), keys.bought(session_id), keys.version(session_id)]
        cap = keys.sale_field(sale_id) if sale_id else ""
        with translated(into=InventoryUnavailable):
            left, version = await self._scripts.give_back(
                keys=script_keys, args=[product_id, units, counter, cap]
            )
        return Released(product_id=product_id, stock_left=int(left), version=int(version))

    async def standing(self, session_id: str, product_id: str, counter: str) -> tuple[int, int]:
        """The product's rebuild generation, and the units held or bought under a per-viewer
        ``counter`` (``product|viewer``, or ``sale:<id>|viewer`` in a sale)."""
        with translated(into=InventoryUnavailable):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hget(keys.generations(session_id), product_id)
                pipe.hget(keys.bought(session_id), counter)
                generation, units = await pipe.execute()
        return int(generation or 0), int(units or 0)

    async def rescore(self, session_id: str, order_id: str, expires_ms: int) -> None:
        """Move a live hold's expiry to ``expires_ms`` (nothing when it is gone)."""
        with translated(into=InventoryUnavailable):
            await self._redis.zadd(keys.holds(session_id), {order_id: expires_ms}, xx=True)

    async def commit(self, session_id: str, order_id: str) -> bool:
        """Make a hold a sale; False when it was no longer held."""
        script_keys = [keys.holds(session_id), keys.hold(session_id, order_id)]
        with translated(into=InventoryUnavailable):
            result = await self._scripts.commit(keys=script_keys, args=[order_id])
        return int(result) == 1

    async def expired_holds(self, session_id: str, *, now_ms: int, limit: int = 100) -> list[str]:
        """Order ids whose hold expired at ``now_ms``, oldest first."""
        with translated(into=InventoryUnavailable):
            raw = await self._redis.zrangebyscore(
                keys.holds(session_id), "-inf", now_ms, start=0, num=limit
            )
        return [
            order_id.decode() if isinstance(order_id, bytes) else str(order_id) for order_id in raw
        ]

    async def is_held(self, session_id: str, order_id: str) -> bool:
        """True while the order's hold is neither released nor committed."""
        with translated(into=InventoryUnavailable):
            score = await self._redis.zscore(keys.holds(session_id), order_id)
        return score is not None
