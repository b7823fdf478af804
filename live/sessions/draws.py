"""Lucky draws: the host opens a draw, viewers enter by commenting the keyword during its
window (or, for a draw without keyword, by being present in the room during it), the host
closes it and winners are drawn fairly and auditably.

Contract: an entry counts only if its comment was published inside the window; each user
enters once. A draw closes when the host says so or, at the latest, within a second of its
``ends_at`` (every node's `run` looks for due draws): exactly once whoever races for it, under
a close lease in Redis, so one seed draws the winners and one ``draw_result`` is published.
Presence is what the nodes record about once a second, so a viewer who stayed less than a
second may be missed. Winners are
``random.Random(seed).sample(sorted(entrants), n)`` with a fresh ``seed`` that is published
in ``draw_result`` together with the entrants' sha256, and the full sorted entrant list goes
into the archive as ``draw_audit`` (not sent to viewers), so anyone holding the archive can
recompute the result. Winners get a private ``draw_won`` message.
"""

import asyncio
import hashlib
import logging
import random
import secrets
from typing import Any

from redis.exceptions import RedisError

from common import codec, loops
from common.errors import ClientError, Code
from live.auth.tokens import Principal
from live.context import Context
from live.db.models import SessionRow
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.platform.shared_reads import SharedReads
from live.sessions import session_records
from realtime import keys as realtime_keys
from realtime.connection import Viewer

log = logging.getLogger(__name__)

OPEN, CLOSED = "open", "closed"
#: Draws of every session by ``ends_at``: ``<session_id>|<draw_id>`` (global, like the other
#: work lists: it holds ids only), read by every node's closer.
DUE = "live:draws:due"
#: How often each node looks for draws past ``ends_at``.
CLOSE_INTERVAL_S = 1.0
#: A node closing a draw holds its lease this long; a node that died mid-close hands it on.
CLOSE_LEASE_MS = 30_000
#: How long a racing closer waits for the winner's result before answering ``unavailable``.
RESULT_WAIT_S = 5.0


def _draw_key(session_id: str, draw_id: str) -> str:
    return f"live:{{{session_id}}}:draw:{draw_id}"


def _entrants_key(session_id: str, draw_id: str) -> str:
    return f"live:{{{session_id}}}:draw:{draw_id}:entrants"


def _open_key(session_id: str) -> str:
    return f"live:{{{session_id}}}:draws:open"


def _all_key(session_id: str) -> str:
    return f"live:{{{session_id}}}:draws:all"


def _lease_key(session_id: str, draw_id: str) -> str:
    return f"live:{{{session_id}}}:draw:{draw_id}:closing"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
            pipe.zadd(_all_key(session_id), {draw["draw_id"]: ts})
            await pipe.execute()
        # Not in the transaction: the global list lives in another Cluster slot.
        await ctx.redis.zadd(DUE, {f"{session_id}|{draw['draw_id']}": draw["ends_at"]})
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "draws are unavailable; retry") from exc
    await ctx.bus.publish(
        session_id, "draw_open", {**draw, "ts": ts, "t_ms": session_records.t_ms(session, ts)}
    )
    return draw


async def listed(ctx: Context, session_id: str) -> list[dict[str, Any]]:
    """The session's draws, oldest first: each as opened, with ``status`` and, once closed,
    ``result``."""
    try:
        draw_ids = [
            raw.decode() if isinstance(raw, bytes) else str(raw)
            for raw in await ctx.redis.zrange(_all_key(session_id), 0, -1)
        ]
        items = []
        for draw_id in draw_ids:
            stored = await ctx.redis.hgetall(_draw_key(session_id, draw_id))
            if not stored:
                continue
            status = stored[b"status"]
            item = {**codec.decode(stored[b"json"]), "status": _text(status)}
            if b"result" in stored:
                item["result"] = codec.decode(stored[b"result"])
            items.append(item)
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "draws are unavailable; retry") from exc
    return items


async def open_draws(ctx: Context, session_id: str) -> list[dict[str, Any]]:
    """The session's open draws (for the joining snapshot)."""
    return [draw for draw in await listed(ctx, session_id) if draw["status"] == OPEN]


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
    return await _close_once(ctx, session, draw_id)


async def _result(ctx: Context, session_id: str, draw_id: str) -> dict[str, Any] | None:
    stored = await ctx.redis.hgetall(_draw_key(session_id, draw_id))
    if not stored:
        raise ClientError(Code.NOT_FOUND, f"no draw {draw_id}")
    if stored.get(b"status") == CLOSED.encode():
        result: dict[str, Any] = codec.decode(stored[b"result"])
        return result
    return None


async def _close_once(ctx: Context, session: SessionRow, draw_id: str) -> dict[str, Any]:
    """The draw's result, drawing it under the close lease unless another closer did."""
    session_id = session.id
    deadline = asyncio.get_running_loop().time() + RESULT_WAIT_S
    try:
        while True:
            if (done := await _result(ctx, session_id, draw_id)) is not None:
                return done
            lease = _lease_key(session_id, draw_id)
            if await ctx.redis.set(lease, ctx.settings.node_id, nx=True, px=CLOSE_LEASE_MS):
                try:
                    return await _close(ctx, session, draw_id)
                finally:
                    await ctx.redis.delete(lease)
            if asyncio.get_running_loop().time() > deadline:
                raise ClientError(Code.UNAVAILABLE, "the draw is being closed; retry")
            await asyncio.sleep(0.05)  # another closer holds the lease: wait for its result
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "draws are unavailable; retry") from exc


async def _close(ctx: Context, session: SessionRow, draw_id: str) -> dict[str, Any]:
    """Draw and publish, holding the close lease (the draw is not closed yet)."""
    session_id = session.id
    key = _draw_key(session_id, draw_id)
    try:
        if (done := await _result(ctx, session_id, draw_id)) is not None:
            return done
        raw = await ctx.redis.hget(key, "json")
        if raw is None:
            raise ClientError(Code.NOT_FOUND, f"no draw {draw_id}")
        draw = codec.decode(raw)
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
    # Recorded before it is announced: a closer that dies in between loses the announcement,
    # never draws a second time.
    await ctx.redis.hset(key, mapping={"status": CLOSED, "result": codec.encode(result)})
    await ctx.redis.srem(_open_key(session_id), draw_id)
    await ctx.redis.zrem(DUE, f"{session_id}|{draw_id}")
    if session.status == session_records.ENDED:
        # The room is closed and its archive complete: the result stays on record only.
        return result
    await ctx.bus.publish(
        session_id,
        "draw_audit",
        {"draw_id": draw_id, "entrant_ids": entrants, "seed": seed, **clock},
    )
    await ctx.bus.publish(session_id, "draw_result", {**result, **clock})
    for winner in winners:
        frame = {"type": "draw_won", "draw_id": draw_id, "prize": draw["prize"]}
        await ctx.hub.moderation.private(session_id, winner, frame)
    return result


async def close_due(ctx: Context) -> int:
    """Close every draw past its ``ends_at``; returns how many this pass closed."""
    due = await ctx.redis.zrangebyscore(DUE, "-inf", now_ms(), start=0, num=100)
    closed = 0
    for member in due:
        name = _text(member)
        session_id, _, draw_id = name.partition("|")
        async with transaction(ctx.db) as db:
            session = await db.get(SessionRow, session_id)
        if session is None or not await ctx.redis.exists(_draw_key(session_id, draw_id)):
            await ctx.redis.zrem(DUE, name)  # a draw Redis lost: nothing left to draw
            continue
        await _close_once(ctx, session, draw_id)
        closed += 1
    return closed


async def run(ctx: Context) -> None:
    """Close draws at ``ends_at`` until the app stops; an outage only delays the next pass."""
    await loops.forever(
        lambda: close_due(ctx),
        every_s=CLOSE_INTERVAL_S,
        doing="closing ended draws",
        log=log,
        stopping=ctx.stopping,
    )
