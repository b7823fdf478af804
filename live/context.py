"""What a running app holds: settings and the clients of its engines, created by the lifespan."""

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inventory.coupons import CouponCounters
from inventory.stock import Stock
from live.attribution import Policies
from live.brand_policies import BrandPolicies
from live.replay_indexes import Indexes
from live.settings import Settings
from live.shared_reads import SharedReads
from realtime.bus import EventBus
from realtime.hub import Hub
from realtime.socket_caps import SocketCaps
from replay.store import ArchiveStore

if TYPE_CHECKING:
    # These read sessions and sales, which take a Context: a runtime import would loop.
    from live.order_writer import OrderWriter
    from live.terms import TermsCache


@dataclass(frozen=True, slots=True)
class Context:
    """The app's engines and services; one per process, shared by all requests."""

    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    redis: Redis
    hub: Hub
    stock: Stock
    coupons: CouponCounters
    store: ArchiveStore
    policies: BrandPolicies
    attribution: Policies
    terms: "TermsCache"
    writer: "OrderWriter"
    sockets: SocketCaps
    #: Replay indexes of recently replayed sessions (`live.replay_indexes`).
    replay_indexes: Indexes = field(default_factory=Indexes)
    #: Session state shared by the joins of a room (`live.snapshots`), one read per second
    #: at most while the room's ``seq`` stands still.
    session_states: SharedReads = field(default_factory=lambda: SharedReads(max_age_s=1.0))
    #: Session rows as room sockets check them on joining (brand, ended), a second at most.
    session_rows: SharedReads = field(default_factory=lambda: SharedReads(max_age_s=1.0))
    #: Set when the app shuts down: background loops end after their current pass.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def bus(self) -> EventBus:
        """The event bus of the hub."""
        return self.hub.bus
