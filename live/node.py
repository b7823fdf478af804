"""A node's life: open the engines, build the one `Context`, start the hub and the background
loops; on shutdown stop them in order and close the engines.

Order on the way up: engines, context, the hub's handlers, the hub, then the loops. On the way
down: the archiver finishes its pass (writes in flight land, leases are released so another
node takes its sessions over at once), the transaction loops are asked to end after their
pass and cancelled only past ``LIVE_SHUTDOWN_DRAIN_S`` (a loop cancelled inside a transaction
leaves the pool's rollback to a cancelled task, which SQLAlchemy logs as an error), then the
hub closes its sockets and the engines close.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import loops
from common.errors import OUTAGES, ClientError
from inventory.coupons import CouponCounters
from inventory.stock import Stock
from inventory.waitlists import Waitlists
from live.api import metrics as metrics_sampler
from live.clips import library, purchases
from live.commerce import coupons, flash_sales, holds, offers, room_orders, stock_recovery
from live.commerce.dev_pay import DevProvider
from live.commerce.order_writer import OrderWriter
from live.commerce.payment_providers import PaymentProvider
from live.commerce.sold_out_gate import SoldOutGate
from live.commerce.stock_invariant import Watch
from live.commerce.terms import TermsCache
from live.commerce.wechat_pay import WeChatPayProvider
from live.context import Context
from live.db.engine import session_factory
from live.db.unit import transaction
from live.guides import attribution, questions, workspace_feed
from live.guides.binding_writer import BindingWriter
from live.guides.budgets import Budgets
from live.guides.desks import PUSH_EVERY_S, Desks
from live.platform import gc_policy, paced_upgrades
from live.platform.batched_reads import BatchedReads
from live.platform.engines import Engines, open_engines
from live.platform.metrics import NodeMetrics
from live.platform.request_metrics import RequestMetrics
from live.platform.settings import Settings
from live.replays import opening
from live.reservations import reminders
from live.sessions import draws
from live.sessions.room_rules import BrandPolicies
from live.webhooks.dispatcher import Dispatcher
from realtime import keys as realtime_keys
from realtime.admission import JoinGate
from realtime.hub import Hub
from realtime.socket_caps import SocketCaps
from replay.archiver import Archiver

log = logging.getLogger(__name__)


def streams_of(session_id: str) -> Mapping[str, str]:
    """The archived streams of a session, by kind."""
    return {
        "events": realtime_keys.events_stream(session_id),
        "comments": realtime_keys.comments_stream(session_id),
    }


def counters_of(session_id: str) -> Mapping[str, str]:
    """The counters that number each archived stream of a session."""
    return {
        "events": realtime_keys.events_seq(session_id),
        "comments": realtime_keys.comments_seq(session_id),
    }


def _hub(settings: Settings, engines: Engines) -> Hub:
    return Hub(
        engines.redis,
        node_id=settings.node_id,
        tick_ms=settings.tick_ms,
        comments_per_tick=settings.comments_per_tick,
        max_frame_bytes=settings.max_frame_bytes,
        comment_max_chars=settings.comment_max_chars,
        comment_rate_per_s=settings.comment_rate_per_s,
        comment_burst=settings.comment_burst,
        backlog_soft_frames=settings.backlog_soft_frames,
        backlog_hard_frames=settings.backlog_hard_frames,
        order_rate_per_s=settings.order_rate_per_s,
        order_burst=settings.order_burst,
    )


async def _quietly(work: Coroutine[Any, Any, None]) -> None:
    """Best-effort work whose refusal (an outage, an archive not readable yet) waits for the
    next occasion."""
    with contextlib.suppress(ClientError, *OUTAGES):
        await work


class OnArchived:
    """Prepares an archived session's replay index and cuts its clips in the background, once
    the node's context exists (the archiver is built before it, and calls this only once it
    runs). `drain` lets that work finish before the engines close."""

    def __init__(self) -> None:
        self.ctx: Context | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, session_id: str) -> None:
        """The archiver wrote ``session_id``'s manifest."""
        if self.ctx is not None:
            self._start(opening.prepare(self.ctx, session_id))
            self._start(_quietly(library.cut_archived(self.ctx, session_id)))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, wait_s: float) -> None:
        """Give the work in progress ``wait_s`` to finish, then cancel what is left: a task
        left running when the loop closes would leave a database call behind it."""
        if not self._tasks:
            return
        tasks = list(self._tasks)
        _, late = await asyncio.wait(tasks, timeout=wait_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _archiver(settings: Settings, engines: Engines, on_archived: OnArchived) -> Archiver:
    return Archiver(
        engines.redis,
        engines.store,
        streams_for=streams_of,
        counters_for=counters_of,
        node_id=settings.node_id,
        segment_events=settings.archive_segment_events,
        segment_ms=settings.archive_segment_ms,
        retry_max_s=settings.archive_retry_max_s,
        spool_dir=settings.data_dir / "spool",
        retain_entries=settings.archive_retain_events,
        on_archived=on_archived,
    )


def _payment_provider(settings: Settings) -> PaymentProvider | None:
    """The provider ``LIVE_PAYMENT_PROVIDER`` names (None: the brand's backend notifies)."""
    if settings.payment_provider == "dev":
        return DevProvider()
    if settings.payment_provider == "wechat" and settings.wechatpay is not None:
        return WeChatPayProvider(settings.wechatpay)
    return None


def build_context(
    settings: Settings,
    engines: Engines,
    request_metrics: RequestMetrics,
    on_archived: OnArchived | None = None,
) -> Context:
    """The node's context over open ``engines``, its hub wired to the app's handlers."""
    db = session_factory(engines.engine)
    on_archived = on_archived or OnArchived()
    metrics = NodeMetrics(request_metrics, multiprocess_dir=settings.metrics_dir)
    hub = _hub(settings, engines)
    hub.stats.tick_lag_s = metrics.tick_lag_histogram()
    guide_budgets = Budgets(engines.redis, db)
    ctx = Context(
        settings=settings,
        engine=engines.engine,
        db=db,
        redis=engines.redis,
        hub=hub,
        stock=Stock(engines.redis, idempotency_ttl_s=settings.idempotency_ttl_s),
        coupons=CouponCounters(engines.redis),
        waitlists=Waitlists(engines.redis),
        store=engines.store,
        policies=BrandPolicies(db),
        attribution=attribution.Policies(
            db, default=attribution.Policy(window_s=settings.attribution_window_s)
        ),
        terms=TermsCache(engines.redis, db),
        writer=OrderWriter(db, side=engines.orders_side),
        sockets=SocketCaps(
            per_ip=settings.max_sockets_per_ip, per_user=settings.max_sockets_per_user
        ),
        archiver=_archiver(settings, engines, on_archived),
        stock_watch=Watch(db, engines.redis),
        request_metrics=request_metrics,
        joins=JoinGate(
            concurrency=settings.join_concurrency,
            queue=settings.join_queue,
            retry_min_ms=settings.join_retry_ms,
        ),
        held_coupons=BatchedReads(_held_coupons_loader(db), default=[]),
        bindings=BindingWriter(db),
        payments=_payment_provider(settings),
        webhooks=Dispatcher(db, engines.redis, settings),
        metrics=metrics,
        budgets=guide_budgets,
        desks=Desks(engines.redis, db, hub.bus, guide_budgets),
        sold_out=SoldOutGate(hub.listening_since, hold_s=settings.sold_out_hold_s),
    )
    on_archived.ctx = ctx
    ctx.hub.on_claim(coupons.claim_handler(ctx))
    ctx.hub.on_buy(room_orders.buy_handler(ctx))
    ctx.hub.on_event("stock", ctx.sold_out.heard_stock)
    ctx.hub.yield_ticks_to(ctx.writer.busy)
    ctx.hub.on_waitlist(room_orders.waitlist_handler(ctx))
    ctx.hub.on_comment(draws.entry_listener(ctx))
    ctx.hub.filter_comments(ctx.policies.comment_filter())
    ctx.hub.on_question(questions.handler(ctx))
    ctx.hub.on_presence(ctx.desks.presence)
    ctx.hub.on_control(workspace_feed.KIND, ctx.desks.control)
    return ctx


async def _push_desks(ctx: Context) -> None:
    """The guides' desks of this node: at most one ``workspace`` frame per guide per second."""
    await loops.forever(
        ctx.desks.push,
        every_s=PUSH_EVERY_S,
        doing="pushing guides' desks",
        log=log,
        stopping=ctx.stopping,
    )


def _held_coupons_loader(
    db: async_sessionmaker[AsyncSession],
) -> Callable[[Sequence[tuple[str, str]]], Awaitable[dict[tuple[str, str], list[dict[str, Any]]]]]:
    async def load(
        viewers: Sequence[tuple[str, str]],
    ) -> dict[tuple[str, str], list[dict[str, Any]]]:
        async with transaction(db) as session:
            return await coupons.held_by_many(session, viewers)

    return load


def _transaction_loops(ctx: Context) -> list[asyncio.Task[None]]:
    """The loops that write the record: asked to end after their pass on shutdown."""
    return [
        asyncio.create_task(holds.run(ctx), name="hold-reaper"),
        asyncio.create_task(offers.run(ctx), name="waitlist-offers"),
        asyncio.create_task(purchases.run(ctx), name="clip-order-reaper"),
        asyncio.create_task(flash_sales.run(ctx), name="sale-closer"),
        asyncio.create_task(draws.run(ctx), name="draw-closer"),
        asyncio.create_task(stock_recovery.run(ctx), name="redis-recovery"),
        asyncio.create_task(ctx.stock_watch.run(ctx.stopping), name="stock-invariant"),
        asyncio.create_task(ctx.webhooks.run(ctx.stopping), name="webhook-dispatcher"),
        asyncio.create_task(reminders.run(ctx), name="reservation-reminders"),
        asyncio.create_task(metrics_sampler.run(ctx), name="metrics-sampler"),
    ]


def _collector(ctx: Context) -> asyncio.Task[None] | None:
    """The collector policy's loop (`live.platform.gc_policy`), unless it is turned off."""
    settings = ctx.settings
    if settings.gc_freeze_s <= 0:
        return None
    policy = gc_policy.CollectorPolicy(
        sweep_every_s=settings.gc_sweep_s,
        sweep_growth=settings.gc_sweep_growth,
        sockets=lambda: ctx.hub.sockets,
    )
    running = gc_policy.run(policy, freeze_every_s=settings.gc_freeze_s, stopping=ctx.stopping)
    return asyncio.create_task(running, name="gc-policy")


@contextlib.asynccontextmanager
async def running(settings: Settings, request_metrics: RequestMetrics) -> AsyncIterator[Context]:
    """Run a node on ``settings`` for the duration of the block; yields its context."""
    engines = await open_engines(settings)
    on_archived = OnArchived()
    ctx = build_context(settings, engines, request_metrics, on_archived)
    await ctx.writer.prepare()
    await ctx.hub.start()
    archiving = asyncio.create_task(ctx.archiver.run(), name="archiver")
    collector = _collector(ctx)
    # The desks write nothing to the record, but stop as those loops do.
    passes = [*_transaction_loops(ctx), asyncio.create_task(_push_desks(ctx), name="guide-desks")]
    # Upgrades started but not yet at the gate count against its queue: two turns' worth (a
    # quarter of a queue of a few, which must still take joins).
    arriving = min(2 * paced_upgrades.PER_TURN, ctx.joins.queue // 4)
    unhold = paced_upgrades.pacer().hold_while(
        lambda: ctx.joins.full(arriving=arriving), max_hold_s=settings.join_hold_s
    )
    try:
        yield ctx
    finally:
        unhold()
        ctx.archiver.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(archiving), settings.shutdown_drain_s)
        archiving.cancel()
        # The collector's pass holds nothing: `stop` sets `stopping`, which ends it at once.
        await loops.stop(passes, ctx.stopping, wait_s=settings.shutdown_drain_s)
        await asyncio.gather(archiving, *([collector] if collector else []), return_exceptions=True)
        await on_archived.drain(settings.shutdown_drain_s)
        await ctx.hub.stop()
        await ctx.bindings.flush()
        if ctx.payments is not None:
            await ctx.payments.aclose()
        await engines.aclose()
