"""The guides' desks of one node: "my viewers now", kept by deltas and pushed at most once a
second per guide over the guide's own room socket.

Contract: a guide's room socket is their workspace subscription. When the first socket of a
guide enters a room on this node, the node opens that guide's `Desk`, reads its state once
(the guide's viewers present, from Redis; pins; holds, waitlists and open questions from the
record) and sends the full ``workspace`` frame; afterwards only deltas change it
(`live.guides.workspace_feed`), and each push sends what changed since the last (at most one
frame per guide per `PUSH_EVERY_S`). A bound viewer's first socket on a node, and its last
leaving, become ``arrived`` / ``left`` deltas for their guide, wherever the guide is: no node
ever scans a room for them. While a desk is open its node refreshes the guide's "seen" marker
(every `SEEN_EVERY_S`), which questions read to tell an online guide from one away.
"""

import asyncio
import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import codec, loops
from common.errors import ClientError
from live.db.models import GuideBudgetRow, GuideQuestionRow, OrderRow, WaitlistEntryRow
from live.db.unit import transaction
from live.guides import attribution, budgets, question_records, workspace_feed
from live.guides.viewers_now import SHOWN_HOLDS, Desk, Loaded, Watcher
from live.platform.clock import now_ms
from realtime import wire
from realtime.bus import EventBus
from realtime.connection import Connection, Viewer

log = logging.getLogger(__name__)

PUSH_EVERY_S = 1.0
#: How often an open desk's "seen" marker is refreshed, in pushes.
SEEN_EVERY_PUSHES = 5
SEEN_EVERY_S = PUSH_EVERY_S * SEEN_EVERY_PUSHES
#: A guide counts as online while their marker is younger than this (a few refreshes missed).
ONLINE_SLACK_MS = int(3 * SEEN_EVERY_S * 1000)
WAITING = ("waiting", "offered")
#: Arriving viewers whose bindings one ``MGET`` reads at most.
ARRIVALS_PER_READ = 1000


@dataclass(slots=True)
class _Open:
    """A desk open on this node and the guide's workspace sockets here."""

    desk: Desk
    brand: str
    sockets: set[Connection] = field(default_factory=set)


class Desks:
    """The guides' desks of this node; `presence` and `control` are the hub's hooks."""

    def __init__(
        self,
        redis: Redis,
        db: async_sessionmaker[AsyncSession],
        bus: EventBus,
        budget_counters: budgets.Budgets,
    ) -> None:
        self._redis = redis
        self._db = db
        self._bus = bus
        self._budgets = budget_counters
        self._open: dict[tuple[str, str], _Open] = {}
        #: Viewers of this node with their guide: ``None`` while the binding is being read.
        self._bound: dict[tuple[str, str], tuple[str, int] | None] = {}
        #: Viewers whose binding is yet to be read, and the task reading them (`_arrivals`).
        self._arriving: list[tuple[str, Connection]] = []
        self._reading: asyncio.Task[None] | None = None
        self._pushes = 0

    @property
    def open_desks(self) -> int:
        """Desks open on this node."""
        return len(self._open)

    # --- the hub's hooks ----------------------------------------------------------------

    def presence(
        self, session_id: str, connection: Connection, entered: bool, sockets: int
    ) -> None:
        """A socket entered or left a room of this node (`realtime.hub.PresenceListener`)."""
        viewer = connection.viewer
        if viewer.role == "guide":
            self._guide_socket(session_id, connection, entered=entered)
        elif viewer.role == "viewer":
            key = (session_id, viewer.user_id)
            if entered and sockets == 1:
                self._bound[key] = None
                self._arriving.append((session_id, connection))
                if self._reading is None:
                    self._reading = asyncio.create_task(self._arrivals())
            elif not entered and sockets == 0:
                bound = self._bound.pop(key, None)
                if bound is not None:
                    loops.spawn(self._depart(session_id, viewer.user_id, *bound))

    def control(self, session_id: str, message: dict[str, object]) -> None:
        """A ``workspace`` delta read from the session's control stream."""
        guide_id = message.get("guide_id")
        if guide_id == workspace_feed.ALL_GUIDES:
            for (session, _), opened in self._open.items():
                if session == session_id:
                    opened.desk.apply(message)
            return
        mine = self._open.get((session_id, str(guide_id)))
        if mine is None:
            return
        mine.desk.apply(message)
        if message.get("op") in ("question", "answered"):
            # A question should not wait for the next push.
            self._push(mine)

    # --- guides -------------------------------------------------------------------------

    def _guide_socket(self, session_id: str, connection: Connection, *, entered: bool) -> None:
        key = (session_id, connection.viewer.user_id)
        opened = self._open.get(key)
        if entered:
            if opened is None:
                desk = Desk(session_id, connection.viewer.user_id)
                opened = self._open[key] = _Open(desk, connection.viewer.brand)
                loops.spawn(self._load(opened))
            else:
                opened.desk.reopen()
            opened.sockets.add(connection)
            return
        if opened is None:
            return
        opened.sockets.discard(connection)
        if not opened.sockets:
            del self._open[key]
            loops.spawn(self._seen(session_id, [connection.viewer.user_id]))

    async def _load(self, opened: _Open) -> None:
        desk = opened.desk
        try:
            loaded = await self._read(opened.brand, desk.session_id, desk.guide_id)
        except (RedisError, ClientError) as exc:
            log.warning("desk of %s not loaded: %s", desk.guide_id, exc)
            loaded = Loaded()
        desk.load(loaded)
        await self._seen(desk.session_id, [desk.guide_id])
        self._push(opened)

    async def _read(self, brand: str, session_id: str, guide_id: str) -> Loaded:
        """The desk's state as the engines hold it now."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(workspace_feed.present_key(session_id, guide_id))
            pipe.hgetall(workspace_feed.watched_key(session_id, guide_id))
            pipe.lrange(workspace_feed.pins_key(session_id), 0, -1)
            present, watched, pins = await pipe.execute()
        loaded = Loaded()
        for raw_id, raw in present.items():
            viewer_id = raw_id.decode()
            fields = codec.decode(raw)
            loaded.present.append(
                Watcher(
                    viewer_id,
                    str(fields.get("name") or viewer_id),
                    int(fields["since_ms"]),
                    int(watched.get(raw_id, 0)),
                )
            )
        for raw in pins:
            pin = codec.decode(raw)
            loaded.pins.append((int(pin["ts"]), pin.get("product_id")))
        async with transaction(self._db) as db:
            await self._read_record(db, brand, session_id, guide_id, loaded)
        return loaded

    async def _read_record(
        self, db: AsyncSession, brand: str, session_id: str, guide_id: str, loaded: Loaded
    ) -> None:
        orders = await db.scalars(
            select(OrderRow).where(
                OrderRow.session_id == session_id,
                OrderRow.brand == brand,
                OrderRow.guide_id == guide_id,
                OrderRow.status.in_(tuple(SHOWN_HOLDS)),
            )
        )
        loaded.holds = [
            {
                "viewer_id": o.viewer_id,
                "order_id": o.id,
                "product_id": o.product_id,
                "qty": o.qty,
                "status": o.status,
                "expires_ms": o.expires_ms,
            }
            for o in orders
        ]
        entries = await db.execute(
            select(WaitlistEntryRow.viewer_id, WaitlistEntryRow.product_id).where(
                WaitlistEntryRow.session_id == session_id,
                WaitlistEntryRow.brand == brand,
                WaitlistEntryRow.guide_id == guide_id,
                WaitlistEntryRow.status.in_(WAITING),
            )
        )
        loaded.waitlist = [(viewer_id, product_id) for viewer_id, product_id in entries]
        questions = await db.scalars(
            select(GuideQuestionRow).where(
                GuideQuestionRow.session_id == session_id,
                GuideQuestionRow.brand == brand,
                GuideQuestionRow.guide_id == guide_id,
                GuideQuestionRow.answered_ms.is_(None),
            )
        )
        loaded.questions = [question_records.question_view(q) for q in questions]
        budget = await db.get(GuideBudgetRow, (session_id, guide_id))
        if budget is not None and budget.brand == brand:
            left = await self._budgets.left(budget)
            loaded.budget = budgets.view(budget, left.count_left, left.value_left_cents)

    async def _seen(self, session_id: str, guide_ids: list[str]) -> None:
        ts = now_ms()
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for guide_id in guide_ids:
                    pipe.set(
                        workspace_feed.seen_key(session_id, guide_id),
                        ts,
                        ex=workspace_feed.KEYS_TTL_S,
                    )
                await pipe.execute()
        except RedisError as exc:
            log.warning("guides' seen markers not refreshed: %s", exc)

    # --- viewers ------------------------------------------------------------------------

    async def _arrivals(self) -> None:
        """Read the bindings of the viewers who arrived, a batch per Redis round trip, until
        none is waiting.

        A join storm brings thousands of viewers within seconds, nearly all bound to no guide.
        A task and a ``GET`` per arrival cost about a twentieth of a join's CPU
        (docs/benchmarks.md, "Join storms"); here the arrivals of a round trip wait in a list,
        and the next batch is read as soon as the last one is answered.
        """
        try:
            while self._arriving:
                batch, self._arriving = self._arriving, []
                try:
                    await self._arrive(batch)
                except Exception:
                    log.exception("arrivals of %d viewers not told to their guides", len(batch))
        finally:
            self._reading = None

    async def _arrive(self, batch: list[tuple[str, Connection]]) -> None:
        by_brand: dict[str, list[tuple[str, Connection]]] = {}
        for arrival in batch:
            by_brand.setdefault(arrival[1].viewer.brand, []).append(arrival)
        # Every read asked before the first is awaited: one round trip for the batch.
        asked = []
        for brand, of_brand in by_brand.items():
            for start in range(0, len(of_brand), ARRIVALS_PER_READ):
                arrivals = of_brand[start : start + ARRIVALS_PER_READ]
                viewer_ids = [connection.viewer.user_id for _, connection in arrivals]
                asked.append((arrivals, attribution.ask_all(self._redis, brand, viewer_ids)))
        told = []
        for arrivals, read in asked:
            try:
                bindings = await attribution.bindings_of(read)
            except ClientError:
                bindings = [None] * len(arrivals)
            for (session_id, connection), binding in zip(arrivals, bindings, strict=True):
                key = (session_id, connection.viewer.user_id)
                if key not in self._bound or self._bound[key] is not None:
                    continue  # left while the batch was read (or left and came back: told once)
                if binding is None:
                    del self._bound[key]
                    continue
                since = now_ms()
                self._bound[key] = (binding.guide_id, since)
                told.append(
                    self._tell_arrival(session_id, connection.viewer, binding.guide_id, since)
                )
        if told:
            await asyncio.gather(*told)

    async def _tell_arrival(
        self, session_id: str, viewer: Viewer, guide_id: str, since: int
    ) -> None:
        name = viewer.name or viewer.user_id
        present = codec.encode({"name": name, "since_ms": since})
        present_key = workspace_feed.present_key(session_id, guide_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(present_key, viewer.user_id, present)
                pipe.expire(present_key, workspace_feed.KEYS_TTL_S)
                pipe.hget(workspace_feed.watched_key(session_id, guide_id), viewer.user_id)
                *_, watched = await pipe.execute()
        except RedisError as exc:
            log.warning("arrival of %s not kept: %s", viewer.user_id, exc)
            watched = None
        await workspace_feed.tell(
            self._bus,
            session_id,
            guide_id,
            "arrived",
            viewer_id=viewer.user_id,
            name=name,
            since_ms=since,
            watched_ms=int(watched or 0),
        )

    async def _depart(self, session_id: str, viewer_id: str, guide_id: str, since: int) -> None:
        watched_key = workspace_feed.watched_key(session_id, guide_id)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hdel(workspace_feed.present_key(session_id, guide_id), viewer_id)
                pipe.hincrby(watched_key, viewer_id, max(0, now_ms() - since))
                pipe.expire(watched_key, workspace_feed.KEYS_TTL_S)
                await pipe.execute()
        except RedisError as exc:
            log.warning("departure of %s not kept: %s", viewer_id, exc)
        await workspace_feed.tell(self._bus, session_id, guide_id, "left", viewer_id=viewer_id)

    # --- pushes -------------------------------------------------------------------------

    def _push(self, opened: _Open) -> None:
        frame = opened.desk.frame(now_ms())
        if frame is None:
            return
        text = codec.encode_text(frame)
        encoded = wire.text_frame(text)
        for connection in tuple(opened.sockets):
            connection.offer(text, wire=encoded)

    async def push(self) -> None:
        """One pass of the push loop: every desk with changes gets its frame."""
        for opened in tuple(self._open.values()):
            if opened.desk.dirty:
                self._push(opened)
        self._pushes += 1
        if self._pushes % SEEN_EVERY_PUSHES == 0 and self._open:
            by_session: dict[str, list[str]] = {}
            for session_id, guide_id in self._open:
                by_session.setdefault(session_id, []).append(guide_id)
            await asyncio.gather(*(self._seen(s, g) for s, g in by_session.items()))


async def online(redis: Redis, session_id: str, guide_id: str, *, away_ms: int) -> bool:
    """Whether the guide's workspace was open within ``away_ms`` (plus the refresh slack)."""
    try:
        seen = await redis.get(workspace_feed.seen_key(session_id, guide_id))
    except RedisError:
        return False
    return seen is not None and now_ms() - int(seen) <= ONLINE_SLACK_MS + away_ms
