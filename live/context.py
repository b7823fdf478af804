"""What a running node holds: its settings, the clients of its engines and its services.

One `Context` per process, built by `live.node` when the app starts and shared by every
request, socket and background loop; nothing else keeps node state. Records modules of each
domain sit below it and never import it; use cases take it as their first argument.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inventory.coupons import CouponCounters
from inventory.stock import Stock
from inventory.waitlists import Waitlists
from live.commerce.order_writer import OrderWriter
from live.commerce.payment_providers import PaymentProvider
from live.commerce.sold_out_gate import SoldOutGate
from live.commerce.stock_invariant import Watch
from live.commerce.terms import TermsCache
from live.guides.attribution import Policies
from live.guides.binding_writer import BindingWriter
from live.guides.budgets import Budgets
from live.guides.desks import Desks
from live.platform.batched_reads import BatchedReads
from live.platform.metrics import NodeMetrics
from live.platform.request_metrics import RequestMetrics
from live.platform.settings import Settings
from live.platform.shared_reads import SharedReads
from live.replays.index import Indexes
from live.sessions.room_rules import BrandPolicies
from live.webhooks.dispatcher import Dispatcher
from realtime.admission import JoinGate
from realtime.bus import EventBus
from realtime.hub import Hub
from realtime.socket_caps import SocketCaps
from replay.archiver import Archiver
from replay.store import ArchiveStore


@dataclass(frozen=True, slots=True)
class Context:
    """The node's engines and services; one per process, shared by all requests."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    redis: Redis
    hub: Hub
    stock: Stock
    coupons: CouponCounters
    waitlists: Waitlists
    store: ArchiveStore
    policies: BrandPolicies
    attribution: Policies
    terms: TermsCache
    writer: OrderWriter
    sockets: SocketCaps
    archiver: Archiver
    #: The periodic stock invariant check; its last count feeds ``/metrics``.
    stock_watch: Watch
    #: HTTP answers by status and order admission times, fed by the app's middleware.
    request_metrics: RequestMetrics
    #: The pace of room socket joins (`realtime.admission`).
    joins: JoinGate
    #: Viewers' unused coupon claims by ``(session_id, viewer_id)``, read in batches.
    held_coupons: BatchedReads[tuple[str, str], list[dict[str, Any]]]
    #: Guide bindings on their way to the record, in batches.
    bindings: BindingWriter
    #: Webhook deliveries of this node (`live.webhooks.dispatcher`).
    webhooks: Dispatcher
    #: The node's Prometheus metrics beside the HTTP ones (`live.platform.metrics`).
    metrics: NodeMetrics
    #: Guides' coupon budgets (`live.guides.budgets`).
    budgets: Budgets
    #: The guides' desks open on this node: "my viewers now" (`live.guides.desks`).
    desks: Desks
    #: Products Redis just refused as sold out, refused again here (`live.commerce.sold_out_gate`).
    sold_out: SoldOutGate
    #: Replay indexes of recently replayed sessions (`live.replays.index`).
    replay_indexes: Indexes = field(default_factory=Indexes)
    #: Session state shared by the joins of a room (`live.sessions.snapshots`), one read per second
    #: at most while the room's ``seq`` stands still.
    session_states: SharedReads = field(default_factory=lambda: SharedReads(max_age_s=1.0))
    #: Session rows as room sockets check them on joining (brand, ended), a second at most.
    session_rows: SharedReads = field(default_factory=lambda: SharedReads(max_age_s=1.0))
    #: Set when the app shuts down: background loops end after their current pass.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when the node starts draining (SIGTERM): ``/readyz`` answers 503 from then on.
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    #: Who takes viewers' payments (``LIVE_PAYMENT_PROVIDER``); None: the brand's own backend.
    payments: PaymentProvider | None = None

    @property
    def bus(self) -> EventBus:
        """The event bus of the hub."""
        return self.hub.bus
