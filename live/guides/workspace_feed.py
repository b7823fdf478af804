"""The deltas that keep guides' desks (`live.guides.viewers_now`) current on every node, and the
Redis keys of "my viewers now".

Contract: `tell` hands one delta to every node with sockets in the session, as a ``workspace``
control message on the session's control stream (`realtime.bus`); only the node holding that
guide's desk acts on it, in the order the stream gives. Deltas are best effort: a Redis outage
loses them (logged), and the guide's next workspace socket reads the state afresh. A delta for
`ALL_GUIDES` (a pin) reaches every desk of the session.
"""

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import codec, loops
from realtime.bus import BusUnavailable, EventBus

log = logging.getLogger(__name__)

KIND = "workspace"
ALL_GUIDES = "*"
#: A desk's keys outlive any session: a week after their last write.
KEYS_TTL_S = 7 * 86_400


def present_key(session_id: str, guide_id: str) -> str:
    """Hash: viewer id -> ``{"name", "since_ms"}`` of the guide's viewers in the room now."""
    return f"live:{{{session_id}}}:desk:{guide_id}:present"


def watched_key(session_id: str, guide_id: str) -> str:
    """Hash: viewer id -> ms watched in the viewer's earlier visits of the session."""
    return f"live:{{{session_id}}}:desk:{guide_id}:watched"


def seen_key(session_id: str, guide_id: str) -> str:
    """When a workspace socket of the guide was last known open (Unix ms)."""
    return f"live:{{{session_id}}}:desk:{guide_id}:seen"


def pins_key(session_id: str) -> str:
    """List of ``{"ts", "product_id"}``, every pin and unpin of the session in order."""
    return f"live:{{{session_id}}}:pins"


async def tell(bus: EventBus, session_id: str, guide_id: str, op: str, **fields: Any) -> None:
    """Hand one delta for ``guide_id``'s desk to the session's nodes."""
    message = {"kind": KIND, "guide_id": guide_id, "op": op, **fields}
    try:
        await bus.send_control(session_id, message)
    except BusUnavailable as exc:
        log.warning("workspace delta %s of %s not sent: %s", op, guide_id, exc)


def tell_soon(bus: EventBus, session_id: str, guide_id: str | None, op: str, **fields: Any) -> None:
    """`tell`, off the caller's path; nothing when ``guide_id`` is None."""
    if guide_id is not None:
        loops.spawn(tell(bus, session_id, guide_id, op, **fields))


async def pinned(
    redis: Redis, bus: EventBus, session_id: str, product_id: str | None, *, ts: int
) -> None:
    """A pin (None: an unpin) for every desk of the session, kept for desks opened later."""
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.rpush(pins_key(session_id), codec.encode({"ts": ts, "product_id": product_id}))
            pipe.expire(pins_key(session_id), KEYS_TTL_S)
            await pipe.execute()
    except RedisError as exc:
        log.warning("pin of %s not kept for the desks: %s", session_id, exc)
    await tell(bus, session_id, ALL_GUIDES, "pin", ts=ts, product_id=product_id)
