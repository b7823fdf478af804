"""`Dispatcher`: a node's webhook deliveries, in the background, beside the room.

Contract: every event in the outbox reaches every endpoint subscribed to it at least once
(`live.webhooks.fan_out`), each attempt signed (`live.webhooks.signing`); failed attempts are
retried on the node's schedule (`live.webhooks.schedule`) until delivered or dead. One node at
a time sends a given delivery (its row's lease, `live.webhooks.deliveries`); a brand has at
most ``LIVE_WEBHOOK_BRAND_CONCURRENCY`` deliveries in flight over all nodes
(`live.webhooks.slots`) and a node ``LIVE_WEBHOOK_NODE_CONCURRENCY``. A slot is a lane: a
task of its own that sends its brand's due deliveries one after the other, each attempt bounded
by ``LIVE_WEBHOOK_TIMEOUT_S``, writing each outcome in the transaction that takes the next one
(a busy brand costs one transaction per delivery and no pass). A slow endpoint holds its
brand's slots and nothing else, and the event loop never waits on it.
"""

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import loops
from common.errors import OUTAGES, ClientError
from live.db.unit import transaction
from live.platform import ids
from live.platform.clock import now_ms
from live.platform.settings import Settings
from live.webhooks import deliveries, fan_out, signing
from live.webhooks.deliveries import Claimed, Outcome
from live.webhooks.endpoints import DEAD, DELIVERED
from live.webhooks.errors import WebhooksUnavailable
from live.webhooks.schedule import Schedule
from live.webhooks.sender import Sender
from live.webhooks.slots import Slots

log = logging.getLogger(__name__)

#: What ends one delivery's task quietly: its lease runs out and it is sent again later.
_RETRIED: tuple[type[Exception], ...] = (*OUTAGES, ClientError)

#: Brands looked at per pass at most (the others wait for the next pass).
BRANDS_PER_PASS = 100


class Dispatcher:
    """Fans out the outbox and sends due deliveries; `run` until the node stops."""

    def __init__(
        self, db: async_sessionmaker[AsyncSession], redis: Redis, settings: Settings
    ) -> None:
        self._db = db
        self._owner = settings.node_id
        self._poll_s = settings.webhook_poll_ms / 1000
        self._timeout_s = settings.webhook_timeout_s
        self._capacity = settings.webhook_node_concurrency
        # Longer than an attempt can take (its timeout) plus the write of its outcome, so a
        # live node never loses a lease; a dead node's deliveries wait this long.
        self._lease_ms = round((3 * settings.webhook_timeout_s + 1) * 1000)
        self._slots = Slots(redis, limit=settings.webhook_brand_concurrency, owner=settings.node_id)
        self._sender = Sender(timeout_s=settings.webhook_timeout_s, limit=self._capacity)
        self.schedule = Schedule(
            base_s=settings.webhook_retry_base_s,
            max_s=settings.webhook_retry_max_s,
            give_up_s=settings.webhook_give_up_s,
        )
        #: One task per slot this node holds: it sends its brand's due deliveries one by one.
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        #: Attempts by outcome since start (``delivered``, ``failed``, ``dead``), for /metrics.
        self.attempts: dict[str, int] = {"delivered": 0, "failed": 0, "dead": 0}
        #: Passes started since start (tests wait on it instead of sleeping).
        self.passes = 0

    @property
    def in_flight(self) -> int:
        """Deliveries this node is sending now (one per lane)."""
        return len(self._lanes)

    async def run(self, stopping: asyncio.Event) -> None:
        """Dispatch until ``stopping``; deliveries in flight get their timeout to finish."""
        try:
            await loops.forever(
                self.one_pass,
                every_s=self._poll_s,
                doing="webhook dispatch",
                log=log,
                stopping=stopping,
            )
            self._stopping = True
            if self._lanes:
                await asyncio.wait(list(self._lanes.values()), timeout=self._timeout_s)
        finally:
            # A delivery cancelled here keeps its lease until it runs out; then any node
            # sends it again (the receiver may see it twice, with the same webhook-id).
            for task in list(self._lanes.values()):
                task.cancel()
            await asyncio.gather(*self._lanes.values(), return_exceptions=True)
            await self._sender.aclose()

    async def one_pass(self) -> object:
        """Fan out new events, open lanes for the brands with due deliveries and free slots."""
        self.passes += 1
        now = now_ms()
        async with transaction(self._db) as db:
            orders = await fan_out.reserved_orders(db)
            looked = max(orders, await fan_out.fan_out(db, now_ms=now))
        await self._open_lanes(now)
        if self._lanes:
            # A lane that ends frees a slot: the next pass comes then, or after the poll.
            await asyncio.wait(
                list(self._lanes.values()),
                timeout=self._poll_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            return loops.AGAIN
        return loops.AGAIN if looked >= fan_out.BATCH else None

    async def _open_lanes(self, now: int) -> None:
        if self._capacity - len(self._lanes) <= 0:
            return
        async with transaction(self._db) as db:
            brands = await deliveries.due_brands(db, now_ms=now, limit=BRANDS_PER_PASS)
        for brand in brands:
            free = min(self._capacity - len(self._lanes), self._slots.limit)
            if free <= 0:
                return
            until = now + self._lease_ms
            lanes = []
            for _ in range(free):
                lane = ids.new_id("lane")
                if not await self._slots.acquire(brand, lane, now_ms=now, until_ms=until):
                    break
                lanes.append(lane)
            if lanes:
                await self._start_lanes(brand, lanes, now)

    async def _start_lanes(self, brand: str, lanes: list[str], now: int) -> None:
        try:
            async with transaction(self._db) as db:
                due = await deliveries.due_of(db, brand, now_ms=now, limit=len(lanes))
                claimed = (
                    await deliveries.claim(
                        db, due, owner=self._owner, now_ms=now, lease_ms=self._lease_ms
                    )
                    if due
                    else []
                )
        except BaseException:
            for lane in lanes:
                await self._release(brand, lane)
            raise
        for lane in lanes[len(claimed) :]:
            await self._release(brand, lane)
        for lane, first in zip(lanes, claimed, strict=False):
            self._lanes[lane] = asyncio.create_task(
                self._lane(brand, lane, first), name=f"webhook-{lane}"
            )

    async def _lane(self, brand: str, lane: str, claimed: Claimed | None) -> None:
        """Send ``claimed``, then the brand's next due delivery, and so on, on one slot: each
        outcome is written in the transaction that takes the next delivery's lease."""
        try:
            while claimed is not None:
                outcome = await self._send(claimed)
                now = now_ms()
                more = not self._stopping and await self._slots.acquire(
                    brand, lane, now_ms=now, until_ms=now + self._lease_ms
                )
                async with transaction(self._db) as db:
                    status = await deliveries.finish(
                        db,
                        claimed,
                        outcome,
                        owner=self._owner,
                        node_id=self._owner,
                        schedule=self.schedule,
                    )
                    claimed = await self._next(db, brand, now) if more else None
                kind = (
                    "delivered" if status == DELIVERED else "dead" if status == DEAD else "failed"
                )
                self.attempts[kind] += 1
        except _RETRIED as exc:
            # The lease runs out and the delivery is sent again, by this node or another.
            log.warning("webhook lane of %s stopped: %s (%r)", brand, exc, exc.__cause__)
        except Exception:
            log.exception("webhook lane of %s crashed", brand)
        finally:
            self._lanes.pop(lane, None)
            await self._release(brand, lane)

    async def _send(self, claimed: Claimed) -> Outcome:
        payload = signing.body(claimed.event_type, claimed.event_created_ms, claimed.data)
        headers = signing.headers(claimed.secret, claimed.event_id, payload, now_s=time.time())
        return await self._sender.post(claimed.url, payload, headers)

    async def _next(self, db: AsyncSession, brand: str, now: int) -> Claimed | None:
        """The brand's next due delivery, its lease taken (another node may take it first)."""
        for _ in range(3):
            due = await deliveries.due_of(db, brand, now_ms=now, limit=1)
            if not due:
                return None
            claimed = await deliveries.claim(
                db, due, owner=self._owner, now_ms=now, lease_ms=self._lease_ms
            )
            if claimed:
                return claimed[0]
        return None

    async def _release(self, brand: str, lane: str) -> None:
        # Redis away: the slot expires with the lease.
        with contextlib.suppress(WebhooksUnavailable):
            await self._slots.release(brand, lane)
