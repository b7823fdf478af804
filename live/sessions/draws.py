"""Lucky draws: the host opens a draw, viewers enter by commenting the keyword during its
window (or, for a draw without keyword, by being present in the room during it), the host
closes it and winners are drawn fairly and auditably.

Contract: an entry counts only if its comment was published inside the window; each user
enters once. Presence is what the nodes record about once a second, so a viewer who stayed
less than a second may be missed. Winners are
``random.Random(seed).sample(sorted(entrants), n)`` with a fresh ``seed`` that is published
in ``draw_result`` together with the entrants' sha256, and the full sorted entrant list goes
into the archive as ``draw_audit`` (not sent to viewers), so anyone holding the archive can
recompute the result. Winners get a private ``draw_won`` message.
"""

import hashlib
import random
import secrets
from typing import Any

from redis.exceptions import RedisError

from common import codec
from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.platform.shared_reads import SharedReads
from live.sessions import session_records
from realtime import keys as realtime_keys
from realtime.connection import Viewer

OPEN, CLOSED = "open", "closed"


def _draw_key(session_id: str, draw_id: str) -> str:
    return f"live:{{{session_id}}}:draw:{draw_id}"


def _entrants_key(session_id: str, draw_id: str) -> str:
    return f"live:{{{session_id}}}:draw:{draw_id}:entrants"


def _open_key(session_id: str) -> str:
    return f"live:{{{session_id}}}:draws:open"


def pick_winners(entrants: list[str], count: int, seed: str) -> list[str]:
    """The winners a seed gives: deterministic, so the archive can be audited."""
    ordered = sorted(entrants)
    return random.Random(seed).sample(ordered, min(count, len(ordered)))  # noqa: S311 - audit, not crypto


def entrants_digest(entrants: list[str]) -> str:
    """sha256 of the sorted entrant ids, one per line."""
    return hashlib.sha256("\n".join(sorted(entrants)).encode()).hexdigest()


async def open_draw(
    ctx: Context, principal: Principal, session_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Open a draw and announce it with ``draw_open``."""
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
    if session.status != session_records.LIVE:
        raise ClientError(Code.SESSION_NOT_LIVE, "draws run in a live session")
    ts = now_ms()
    draw = {
        "draw_id": ids.new_id("drw"),
        "keyword": fields.get("keyword") or "",
        "opened_at": ts,
        "winners": fields["winners"],
        "prize": fields.get("prize") or "",
        "ends_at": ts + fields["duration_s"] * 1000,
    }
    try:
        async with ctx.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                _draw_key(session_id, draw["draw_id"]),
                mapping={
                    "json": codec.encode(draw),
                    "status": OPEN,
                },
            )
            pipe.sadd(_open_key(session_id), draw["draw_id"])
            await pipe.execute()
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "draws are unavailable; retry") from exc
    await ctx.bus.publish(
        session_id, "draw_open", {**draw, "ts": ts, "t_ms": session_records.t_ms(session, ts)}
    )
    return draw


async def _open_draws(ctx: Context, session_id: str) -> list[dict[str, Any]]:
    draws = []
    for raw_id in await ctx.redis.smembers(_open_key(session_id)):
        draw_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        raw = await ctx.redis.hget(_draw_key(session_id, draw_id), "json")
        if raw is not None:
            draws.append(codec.decode(raw))
    return draws


def entry_listener(ctx: Context) -> Any:
    """The hub's comment listener that enters keyword senders into open draws.

    The open draws are read once per room ``seq``, not once per comment (a flood is a thousand
    comments a second): a draw is in the open set before its ``draw_open`` moves the seq.
    """
    open_draws = SharedReads(max_age_s=1.0)

    async def listen(session_id: str, seq: int, viewer: Viewer, text: str) -> None:
        draws: list[dict[str, Any]] = await open_draws.get(
            session_id, lambda: _open_draws(ctx, session_id), version=seq
        )
        for draw in draws:
            inside = now_ms() <= draw["ends_at"]
            keyword = draw["keyword"]
            if inside and keyword and keyword.casefold() in text.casefold():
                await ctx.redis.sadd(_entrants_key(session_id, draw["draw_id"]), viewer.user_id)

    return listen


async def close_draw(
    ctx: Context, principal: Principal, session_id: str, draw_id: str
) -> dict[str, Any]:
    """Draw the winners, publish ``draw_audit`` and ``draw_result``, tell the winners."""
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
    key = _draw_key(session_id, draw_id)
    try:
        stored = await ctx.redis.hgetall(key)
        if not stored:
            raise ClientError(Code.NOT_FOUND, f"no draw {draw_id}")
        if stored.get(b"status") == CLOSED.encode():
            result: dict[str, Any] = codec.decode(stored[b"result"])
            return result
        draw = codec.decode(stored[b"json"])
        members: list[Any]
        if draw["keyword"]:
            members = list(await ctx.redis.smembers(_entrants_key(session_id, draw_id)))
        else:
            members = list(
                await ctx.redis.zrangebyscore(
                    realtime_keys.seen(session_id), draw["opened_at"], draw["ends_at"]
                )
            )
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "draws are unavailable; retry") from exc
    entrants = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    seed = secrets.token_hex(16)
    winners = pick_winners(entrants, int(draw["winners"]), seed)
    ts = now_ms()
    clock = {"ts": ts, "t_ms": session_records.t_ms(session, ts)}
    result = {
        "draw_id": draw_id,
        "winners": winners,
        "seed": seed,
        "entrants": len(entrants),
        "entrants_sha256": entrants_digest(entrants),
        "prize": draw["prize"],
    }
    await ctx.bus.publish(
        session_id,
        "draw_audit",
        {"draw_id": draw_id, "entrant_ids": entrants, "seed": seed, **clock},
    )
    await ctx.bus.publish(session_id, "draw_result", {**result, **clock})
    await ctx.redis.hset(key, mapping={"status": CLOSED, "result": codec.encode(result)})
    await ctx.redis.srem(_open_key(session_id), draw_id)
    for winner in winners:
        frame = {"type": "draw_won", "draw_id": draw_id, "prize": draw["prize"]}
        await ctx.hub.moderation.private(session_id, winner, frame)
    return result
