"""The live guide leaderboard of a session: viewers brought, orders and GMV per guide, in Redis,
pushed to the hosts' panels at most once a second.

Contract: `count_viewer` is called when a share code binds a viewer to a guide in the session,
`count_order` when an order attributed to a guide is recorded; both are one ``HINCRBY`` on
``live:{<session_id>}:leaderboard``. Each also asks for a push: the first ask of a second wins a
``SET NX PX`` marker (on whichever node) and, a second later, reads the hash and hands it to
every node as a ``hosts`` control message, so bursts of orders become one frame per second and
the frame sent is never older than the last change. The leaderboard is live state: a Redis
loss without persistence loses it (orders stay attributed in the record).
"""

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import loops
from realtime.bus import BusUnavailable, EventBus

log = logging.getLogger(__name__)

PUSH_EVERY_MS = 1_000
TOP = 50


def key(session_id: str) -> str:
    """Hash ``<guide>|viewers``, ``<guide>|orders``, ``<guide>|gmv`` -> counts."""
    return f"live:{{{session_id}}}:leaderboard"


def _push_marker(session_id: str) -> str:
    return f"live:{{{session_id}}}:leaderboard:pushed"


async def count_viewer(redis: Redis, bus: EventBus, session_id: str, guide_id: str) -> None:
    """A share code bound one more viewer to ``guide_id`` in the session."""
    await _count(redis, bus, session_id, {f"{guide_id}|viewers": 1})


async def count_order(
    redis: Redis, bus: EventBus, session_id: str, guide_id: str, amount_cents: int
) -> None:
    """One more order attributed to ``guide_id`` in the session."""
    await _count(redis, bus, session_id, {f"{guide_id}|orders": 1, f"{guide_id}|gmv": amount_cents})


async def read(redis: Redis, session_id: str) -> list[dict[str, Any]]:
    """The guides of the session by GMV, then orders, then viewers brought (top `TOP`)."""
    raw = await redis.hgetall(key(session_id))
    guides: dict[str, dict[str, Any]] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        guide_id, _, measure = name.rpartition("|")
        entry = guides.setdefault(
            guide_id, {"guide_id": guide_id, "viewers": 0, "orders": 0, "gmv_cents": 0}
        )
        entry["gmv_cents" if measure == "gmv" else measure] = int(value)
    ranked = sorted(
        guides.values(), key=lambda g: (-g["gmv_cents"], -g["orders"], -g["viewers"], g["guide_id"])
    )
    return ranked[:TOP]


async def _count(redis: Redis, bus: EventBus, session_id: str, changes: dict[str, int]) -> None:
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for field, amount in changes.items():
                pipe.hincrby(key(session_id), field, amount)
            pipe.set(_push_marker(session_id), 1, nx=True, px=PUSH_EVERY_MS)
            *_, first_of_second = await pipe.execute()
    except RedisError as exc:
        log.warning("leaderboard of %s not counted: %s", session_id, exc)
        return
    if first_of_second:
        loops.spawn(_push_later(redis, bus, session_id))


async def _push_later(redis: Redis, bus: EventBus, session_id: str) -> None:
    # Sleep as long as the marker lives: changes made meanwhile ask no push of their own, and
    # this read comes after all of them.
    await asyncio.sleep(PUSH_EVERY_MS / 1000)
    try:
        guides = await read(redis, session_id)
        frame = {"type": "leaderboard", "guides": guides}
        await bus.send_control(session_id, {"kind": "hosts", "frame": frame})
    except (RedisError, BusUnavailable) as exc:
        log.warning("leaderboard of %s not pushed: %s", session_id, exc)
