"""Surviving Redis data loss: detect it, pause the session's sales, restore its counters.

Contract: `run_id` names the Redis process; each session's counters carry the run id they were
built on (`keys.epoch`), so a restarted server (with or without persistence) shows up as an
epoch mismatch, and a server that lost keys shows up as a missing stock field. `pause` deletes
the stock hash: every reserve then answers ``not_loaded`` until `restore` writes the state the
record dictates, in one MULTI/EXEC whose last write is the stock hash. Only the holder of the
session's rebuild lease restores it; the others wait for the new epoch.
"""

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis, RedisCluster

from common.redis_errors import translated
from inventory import keys
from inventory.errors import InventoryUnavailable

LEASE_MS = 30_000


@dataclass(frozen=True, slots=True)
class HoldState:
    """One hold to restore: a reserved order of the record."""

    order_id: str
    product_id: str
    viewer_id: str
    qty: int
    expires_ms: int
    sale_id: str | None = None

    @property
    def counter(self) -> str:
        """Field of the per-viewer counter the hold counts in (the sale's, during a sale)."""
        scope = keys.sale_field(self.sale_id) if self.sale_id else self.product_id
        return f"{scope}|{self.viewer_id}"


@dataclass(slots=True)
class SessionState:
    """Everything Redis holds for one session's sales, as the record dictates it.

    ``stock``: field (product id, or ``sale:<id>`` for an open sale's cap) -> units available;
    ``bought``: ``product|viewer`` (``sale:<id>|viewer`` in a sale) -> units held or sold;
    ``idempotency``: (viewer, key) -> (recorded outcome, seconds left); ``generations``: product
    id -> the rebuild generation the record is on; coupon maps as in `inventory.coupons`;
    ``queues``: product id -> (viewer -> position) of the viewers waiting for it.
    """

    stock: dict[str, int] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    bought: dict[str, int] = field(default_factory=dict)
    holds: list[HoldState] = field(default_factory=list)
    idempotency: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    coupons_left: dict[str, int] = field(default_factory=dict)
    coupons_claimed: dict[str, int] = field(default_factory=dict)
    coupon_expiry: dict[str, int] = field(default_factory=dict)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(values: dict[str, int]) -> dict[Any, Any]:
    # redis-py types hash mappings with an invariant key union that dict[str, int] misses.
    return dict(values)


async def run_id(redis: Redis) -> str:
    """The ``run_id`` of the Redis process answering now (new after every restart).

    On Redis Cluster: the sorted run ids of every primary, joined by commas, so a restart or a
    failover of any primary changes it (and every session is checked against the record,
    including those whose slots did not move: more rebuilds than needed, never fewer).
    """
    with translated(into=InventoryUnavailable):
        if isinstance(redis, RedisCluster):
            ids = [
                str((await redis.info("server", target_nodes=node))["run_id"])
                for node in redis.get_primaries()
            ]
            return ",".join(sorted(ids))
        info = await redis.info("server")
    return str(info["run_id"])


async def healthy(redis: Redis, session_id: str, *, epoch: str, product_ids: list[str]) -> bool:
    """True when the session's counters were built on ``epoch`` and every product is loaded.

    A session never stamped but fully loaded (products added since the server started) is
    stamped with ``epoch`` here and counts as healthy.
    """
    with translated(into=InventoryUnavailable):
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.epoch(session_id))
            if product_ids:
                pipe.hmget(keys.stock(session_id), product_ids)
            answers = await pipe.execute()
        stamped = None if answers[0] is None else _text(answers[0])
        loaded = not product_ids or all(value is not None for value in answers[1])
        if stamped is None and loaded:
            await redis.set(keys.epoch(session_id), epoch, nx=True)
            return True
    return stamped == epoch and loaded


async def lease(redis: Redis, session_id: str, owner: str) -> bool:
    """Take the session's rebuild lease; False when another node holds it."""
    with translated(into=InventoryUnavailable):
        taken = await redis.set(keys.rebuild_lock(session_id), owner, nx=True, px=LEASE_MS)
    return bool(taken)


async def drop_lease(redis: Redis, session_id: str) -> None:
    """Give the rebuild lease up (after a failed rebuild, so another pass can retry)."""
    with translated(into=InventoryUnavailable):
        await redis.delete(keys.rebuild_lock(session_id))


async def pause(redis: Redis, session_id: str) -> None:
    """Stop the session's sales: reserves answer ``not_loaded`` until `restore`."""
    with translated(into=InventoryUnavailable):
        await redis.delete(keys.stock(session_id))


async def restore(redis: Redis, session_id: str, state: SessionState, *, epoch: str) -> None:
    """Replace the session's counters with ``state`` atomically, stamp ``epoch``, drop the lease."""
    sid = session_id
    with translated(into=InventoryUnavailable):
        # Outside the MULTI: the global work list lives in another Cluster slot than the
        # session's keys. Listing the session first is harmless (the reaper finds no hold).
        await redis.sadd(keys.SESSIONS_WITH_HOLDS, sid)
        if any(state.queues.values()):
            await redis.sadd(keys.SESSIONS_WITH_WAITLISTS, sid)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(
                keys.bought(sid),
                keys.holds(sid),
                keys.coupons_left(sid),
                keys.coupons_claimed(sid),
                keys.coupon_expiry(sid),
            )
            if state.bought:
                pipe.hset(keys.bought(sid), mapping=_fields(state.bought))
            for hold in state.holds:
                pipe.zadd(keys.holds(sid), {hold.order_id: hold.expires_ms})
                pipe.delete(keys.hold(sid, hold.order_id))
                pipe.hset(
                    keys.hold(sid, hold.order_id),
                    mapping={
                        "product_id": hold.product_id,
                        "viewer_id": hold.viewer_id,
                        "qty": hold.qty,
                        "cap_field": keys.sale_field(hold.sale_id) if hold.sale_id else "",
                        "counter": hold.counter,
                    },
                )
            for (viewer_id, key), (outcome, ttl_s) in state.idempotency.items():
                pipe.set(keys.idempotency(sid, viewer_id, key), outcome, ex=ttl_s)
            if state.coupons_left:
                pipe.hset(keys.coupons_left(sid), mapping=_fields(state.coupons_left))
            if state.coupons_claimed:
                pipe.hset(keys.coupons_claimed(sid), mapping=_fields(state.coupons_claimed))
            if state.coupon_expiry:
                pipe.hset(keys.coupon_expiry(sid), mapping=_fields(state.coupon_expiry))
            # Every product's queue, also of products nobody waits for in the record now.
            for product_id in {*state.generations, *state.queues}:
                pipe.delete(keys.waitlist(sid, product_id))
            for product_id, queue in state.queues.items():
                if queue:
                    pipe.zadd(keys.waitlist(sid, product_id), _fields(queue))
                    pipe.sadd(keys.waitlisted(sid), product_id)
            pipe.delete(keys.generations(sid))
            if state.generations:
                pipe.hset(keys.generations(sid), mapping=_fields(state.generations))
            pipe.delete(keys.stock(sid))
            if state.stock:
                pipe.hset(keys.stock(sid), mapping=_fields(state.stock))
            pipe.set(keys.epoch(sid), epoch)
            pipe.delete(keys.rebuild_lock(sid))
            await pipe.execute()


async def held(redis: Redis, session_id: str) -> dict[str, int]:
    """Units held per stock field: the sum of the session's live holds per product, and per
    open sale's cap field (``sale:<id>``) for holds taken in a sale."""
    sid = session_id
    with translated(into=InventoryUnavailable):
        order_ids = [_text(o) for o in await redis.zrange(keys.holds(sid), 0, -1)]
        async with redis.pipeline(transaction=False) as pipe:
            for order_id in order_ids:
                pipe.hmget(keys.hold(sid, order_id), ["product_id", "qty", "cap_field"])
            rows = await pipe.execute()
    totals: dict[str, int] = {}
    for product_id, qty, cap_field in rows:
        if product_id is None or qty is None:
            continue
        fields = [_text(product_id)] + ([_text(cap_field)] if cap_field else [])
        for stock_field in fields:
            totals[stock_field] = totals.get(stock_field, 0) + int(qty)
    return totals
