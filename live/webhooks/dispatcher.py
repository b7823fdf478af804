"""`Dispatcher`: a node's webhook deliveries, in the background, beside the room.

Contract: every event in the outbox reaches every endpoint subscribed to it at least once
(`live.webhooks.fan_out`), each attempt signed (`live.webhooks.signing`); failed attempts are
retried on the node's schedule (`live.webhooks.schedule`) until delivered or dead. One node at
a time sends a given delivery (its row's lease, `live.webhooks.deliveries`); a brand has at
most ``LIVE_WEBHOOK_BRAND_CONCURRENCY`` deliveries in flight over all nodes
(`live.webhooks.slots`) and a node ``LIVE_WEBHOOK_NODE_CONCURRENCY``. Each delivery is its own
task bounded by ``LIVE_WEBHOOK_TIMEOUT_S``: a slow endpoint holds its brand's slots and
nothing else, and the event loop never waits on it.
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
from live.platform.clock import now_ms
from live.platform.settings import Settings
from live.webhooks import deliveries, fan_out, signing
from live.webhooks.deliveries import Claimed
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
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        #: Attempts by outcome since start (``delivered``, ``failed``, ``dead``), for /metrics.
        self.attempts: dict[str, int] = {"delivered": 0, "failed": 0, "dead": 0}
        #: Passes started since start (tests wait on it instead of sleeping).
        self.passes = 0

    @property
    def in_flight(self) -> int:
        """Deliveries this node is sending now."""
        return len(self._in_flight)

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
            if self._in_flight:
                await asyncio.wait(list(self._in_flight.values()), timeout=self._timeout_s)
        finally:
            # A delivery cancelled here keeps its lease until it runs out; then any node
            # sends it again (the receiver may see it twice, with the same webhook-id).
            for task in list(self._in_flight.values()):
                task.cancel()
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
            await self._sender.aclose()

    async def one_pass(self) -> object:
        """Fan out new events, start the due deliveries there is room for."""
        self.passes += 1
        now = now_ms()
        async with transaction(self._db) as db:
            looked = await fan_out.fan_out(db, now_ms=now)
        await self._start_due(now)
        if self._in_flight:
            # The next pass comes as soon as a delivery frees its slot, so a brand's
            # deliveries follow each other without waiting for the poll.
            await asyncio.wait(
                list(self._in_flight.values()),
                timeout=self._poll_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            return loops.AGAIN
        return loops.AGAIN if looked >= fan_out.BATCH else None

    async def _start_due(self, now: int) -> None:
        if self._capacity - len(self._in_flight) <= 0:
            return
        async with transaction(self._db) as db:
            brands = await deliveries.due_brands(db, now_ms=now, limit=BRANDS_PER_PASS)
        for brand in brands:
            free = min(self._capacity - len(self._in_flight), self._slots.limit)
            if free <= 0:
                return
            async with transaction(self._db) as db:
                due = await deliveries.due_of(db, brand, now_ms=now, limit=free)
            held = []
            until = now + self._lease_ms
            for delivery_id in due:
                if delivery_id in self._in_flight:
                    continue
                if not await self._slots.acquire(brand, delivery_id, now_ms=now, until_ms=until):
                    break
                held.append(delivery_id)
            if held:
                await self._claim(brand, held, now)

    async def _claim(self, brand: str, held: list[str], now: int) -> None:
        try:
            async with transaction(self._db) as db:
                claimed = await deliveries.claim(
                    db, held, owner=self._owner, now_ms=now, lease_ms=self._lease_ms
                )
        except BaseException:
            for delivery_id in held:
                await self._release(brand, delivery_id)
            raise
        taken = {c.delivery_id for c in claimed}
        for delivery_id in held:
            if delivery_id not in taken:
                await self._release(brand, delivery_id)
        for one in claimed:
            task = asyncio.create_task(self._deliver(one), name=f"webhook-{one.delivery_id}")
            self._in_flight[one.delivery_id] = task

    async def _deliver(self, claimed: Claimed) -> None:
        try:
            payload = signing.body(claimed.event_type, claimed.event_created_ms, claimed.data)
            headers = signing.headers(claimed.secret, claimed.event_id, payload, now_s=time.time())
            outcome = await self._sender.post(claimed.url, payload, headers)
            async with transaction(self._db) as db:
                status = await deliveries.finish(
                    db,
                    claimed,
                    outcome,
                    owner=self._owner,
                    node_id=self._owner,
                    schedule=self.schedule,
                )
            kind = "delivered" if status == DELIVERED else "dead" if status == DEAD else "failed"
            self.attempts[kind] += 1
        except _RETRIED as exc:
            # The lease runs out and the delivery is sent again, by this node or another.
            log.warning("webhook %s not recorded: %s", claimed.delivery_id, exc)
        except Exception:
            log.exception("webhook %s crashed", claimed.delivery_id)
        finally:
            self._in_flight.pop(claimed.delivery_id, None)
            await self._release(claimed.brand, claimed.delivery_id)

    async def _release(self, brand: str, delivery_id: str) -> None:
        # Redis away: the slot expires with the lease.
        with contextlib.suppress(WebhooksUnavailable):
            await self._slots.release(brand, delivery_id)
