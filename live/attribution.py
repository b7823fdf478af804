"""Attribution: which guide a viewer's purchases are credited to.

Policy (foundation): last touch within a window. A viewer who joins through a guide's share
code is bound to that guide for ``window_s`` seconds; a later valid code replaces the binding.
The binding lives in Redis with a TTL; the order row copies it in its own transaction, so a
paid order's attribution never depends on Redis afterwards.
"""

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime import codec
from realtime.errors import ClientError, Code


@dataclass(frozen=True, slots=True)
class Binding:
    """A viewer bound to a guide at ``touch_ms``."""

    guide_id: str
    store: str | None
    session_id: str
    touch_ms: int


def binding_key(brand: str, viewer_id: str) -> str:
    """The Redis key of one viewer's binding within a brand."""
    return f"attr:{{{brand}}}:{viewer_id}"


async def bind(
    redis: Redis, brand: str, viewer_id: str, binding: Binding, *, window_s: int
) -> None:
    """Bind (last touch wins) for ``window_s`` seconds."""
    value = codec.encode(
        {"g": binding.guide_id, "st": binding.store, "s": binding.session_id, "t": binding.touch_ms}
    )
    try:
        await redis.set(binding_key(brand, viewer_id), value, ex=window_s)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "attribution is unavailable") from exc


async def lookup(redis: Redis, brand: str, viewer_id: str) -> Binding | None:
    """The viewer's current binding, or None."""
    try:
        raw = await redis.get(binding_key(brand, viewer_id))
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "attribution is unavailable") from exc
    if raw is None:
        return None
    fields = codec.decode(raw)
    return Binding(
        guide_id=fields["g"], store=fields.get("st"), session_id=fields["s"], touch_ms=fields["t"]
    )
