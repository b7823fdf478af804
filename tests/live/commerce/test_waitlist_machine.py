"""A stateful model of one product's sale with a waitlist: buys on the room socket (retried with
their key), waitlist joins and leaves, offers taken, expiries, cancels, payments, stock added
by the host and Redis losses, in any order. After every step the record and Redis agree with
the model: nothing oversold, no per-viewer limit passed, every unit that came back offered once
to the first viewer in line (a viewer at its limit skipped), the queue in its order.

The app runs on a loop of its own thread (hypothesis drives rules synchronously), on a private
Valkey that the machine kills and restarts without persistence; offers are made by the app's
own background pumps and sweep, so each step waits until the app settles on the state the
model predicts.
"""

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from websockets.asyncio.client import connect

from common.errors import ClientError, Code
from inventory import keys as inventory_keys
from inventory import recovery as inventory_recovery
from inventory.errors import InventoryUnavailable
from live.auth.tokens import Principal, Role
from live.commerce import holds, order_records, payments, stock_recovery
from live.commerce.stock_invariant import read
from live.context import Context
from live.db.models import OrderRow, ProductRow, WaitlistEntryRow
from live.db.unit import transaction
from live.platform.embedded_valkey import EmbeddedValkey
from live.sessions import lifecycle
from realtime.bus import BusUnavailable
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.sessions import OpenSession, open_session

T = TypeVar("T")
VIEWERS = ("v0", "v1", "v2", "v3")
#: Answers after which a client sends the same request again (with the same key).
RETRY = {Code.UNAVAILABLE, Code.SALE_PAUSED, Code.REQUEST_IN_PROGRESS}
SETTLE_S = 10.0
#: Which of the orders in a given state a rule acts on (taken modulo their number). Drawn
#: whatever the state: a draw made only when such orders exist made hypothesis's replays of an
#: example draw differently when the app's timing changed which orders existed, which it
#: reports as an error of the test itself (inconsistent data generation).
PICK = st.integers(0, 15)


class AppThread:
    """An app instance serving from its own event loop in a thread, on a private Valkey."""

    def __init__(self, tmp_path: Path) -> None:
        self.valkey = EmbeddedValkey(tmp_path / "valkey", persistent=False)
        self.valkey.start()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings = settings_for(
            tmp_path / "data",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
            redis_url=self.valkey.url,
            order_rate_per_s=1_000.0,
            order_burst=1_000,
        )
        self.server: LiveServer = self.run(start_server(settings))
        self.ctx: Context = self.server.context

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the app's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    def close(self) -> None:
        """Stop the app, the loop and the Valkey server."""
        self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.valkey.stop()


@pytest.fixture
def app_thread(tmp_path: Path) -> Iterator[AppThread]:
    """One app on its own loop and Valkey, for the whole hypothesis run."""
    app = AppThread(tmp_path)
    try:
        yield app
    finally:
        app.close()


@dataclass
class Order:
    """The model's view of one order (or offer)."""

    order_id: str
    viewer: str
    qty: int
    status: str


async def _retrying(work: Any) -> Any:
    """Call ``work()`` until Redis answers (a restart leaves broken connections behind)."""
    for _ in range(300):
        try:
            return await work()
        except (InventoryUnavailable, BusUnavailable, OSError):
            pass
        except ClientError as exc:
            if exc.code not in RETRY:
                raise
        await asyncio.sleep(0.02)  # back-off while the rebuild runs
    raise AssertionError("Redis state never came back")


class WaitlistMachine(RuleBasedStateMachine):
    """One product, a few viewers, a waitlist, and every way its units move."""

    app: AppThread

    @initialize(stock=st.integers(1, 3), limit=st.integers(1, 2))
    def open_sale(self, stock: int, limit: int) -> None:
        """A live session with one product of ``stock`` units, ``limit`` per viewer."""

        async def open_retrying() -> OpenSession:
            # The first requests after a restart may meet connections the server closed.
            for _ in range(20):
                with contextlib.suppress(AssertionError):
                    return await open_session(self.app.server, stock=stock, limit=limit)
            return await open_session(self.app.server, stock=stock, limit=limit)

        opened = self.app.run(open_retrying())
        self.session_id, self.product_id = opened.session_id, opened.product_id
        self.stock, self.limit = stock, limit
        self.orders: dict[str, Order] = {}
        self.queue: list[str] = []
        self.restarts = 0
        self.last_buy: tuple[str, int, str, object] | None = None
        # Sold out from the start to early buyers, so the waitlist has work at once.
        for n in range(stock):
            early = f"early{n}"
            message = {"type": "buy", "product_id": self.product_id, "qty": 1, "key": "k"}
            order = self.app.run(self._socket(early, message))["order"]
            self.orders[order["order_id"]] = Order(order["order_id"], early, 1, "reserved")

    # ---- the model ----

    def _units(self, viewer: str | None = None) -> int:
        return sum(
            o.qty
            for o in self.orders.values()
            if o.status in order_records.COMMITTED and viewer in (None, o.viewer)
        )

    def _available(self) -> int:
        return self.stock - self._units()

    def _offer_of(self, viewer: str) -> Order | None:
        return next(
            (o for o in self.orders.values() if o.viewer == viewer and o.status == "offered"), None
        )

    def _offers_due(self) -> None:
        """What the app must do with available units while viewers wait: offer them in queue
        order, skipping a viewer whose limit leaves no room (its order ids are learnt later)."""
        while self.queue and self._available() >= 1:
            viewer = self.queue.pop(0)
            if self._units(viewer) + 1 > self.limit:
                continue
            placeholder = f"offer-to-{viewer}-{uuid.uuid4().hex[:6]}"
            self.orders[placeholder] = Order(placeholder, viewer, 1, "offered")

    def _principal(self, viewer: str, role: Role = Role.VIEWER) -> Principal:
        return Principal(sub=viewer, role=role, brand=self.app.server.brand)

    # ---- talking to the app ----

    async def _socket(self, viewer: str, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message on a fresh room socket; its answer (after retries on pauses)."""
        server = self.app.server
        url = server.ws_url(self.session_id, server.token("viewer", viewer))
        for _ in range(300):
            try:
                async with connect(url, max_size=None, compression=None) as socket:
                    first = orjson.loads(await socket.recv())
                    if isinstance(first, dict) and first.get("type") == "error":
                        raise OSError(first["code"])
                    await socket.send(orjson.dumps({**message, "ref": "m"}).decode())
                    while True:
                        data = orjson.loads(await socket.recv())
                        found = [
                            f
                            for f in (data if isinstance(data, list) else [data])
                            if f.get("ref") == "m"
                        ]
                        if found:
                            break
            except (OSError, EOFError) as exc:
                # A socket dropped by a Redis restart (4101) or refused while it rebuilds.
                del exc
                await asyncio.sleep(0.02)  # a client's back-off
                continue
            except Exception as exc:  # websockets' ConnectionClosed
                if "ConnectionClosed" not in type(exc).__name__:
                    raise
                await asyncio.sleep(0.02)  # a client's back-off
                continue
            answer: dict[str, Any] = found[0]
            if answer["type"] == "error" and Code(answer["code"]) in RETRY:
                await asyncio.sleep(0.02)  # a client's back-off while the rebuild runs
                continue
            return answer
        raise AssertionError(f"no final answer to {message}")

    # ---- rules ----

    @rule(viewer=st.sampled_from(VIEWERS), qty=st.integers(1, 2))
    def buy(self, viewer: str, qty: int) -> None:
        """A viewer buys on the room socket; the model predicts whether it must succeed."""
        fits = (
            self._available() - len(self.queue) >= qty and self._units(viewer) + qty <= self.limit
        )
        key = uuid.uuid4().hex
        message = {"type": "buy", "product_id": self.product_id, "qty": qty, "key": key}
        answer = self.app.run(self._socket(viewer, message))
        if answer["type"] == "error":
            assert answer["code"] in ("sold_out", "limit_exceeded"), answer
            assert not fits, f"refused {answer['code']} although {qty} fit"
            self.last_buy = (viewer, qty, key, answer["code"])
            return
        assert fits, "sold beyond the stock, the waitlist's units or the per-viewer limit"
        order = answer["order"]
        self.orders[order["order_id"]] = Order(order["order_id"], viewer, qty, "reserved")
        self.last_buy = (viewer, qty, key, order["order_id"])

    @precondition(lambda self: self.last_buy is not None)
    @rule()
    def retry_last_buy(self) -> None:
        """The last buy sent again with its key answers what it answered."""
        assert self.last_buy is not None
        viewer, qty, key, first = self.last_buy
        message = {"type": "buy", "product_id": self.product_id, "qty": qty, "key": key}
        answer = self.app.run(self._socket(viewer, message))
        if answer["type"] == "error":
            assert answer["code"] == first, (answer, first)
        else:
            assert answer["order"]["order_id"] == first

    @rule(viewer=st.sampled_from(VIEWERS))
    def join(self, viewer: str) -> None:
        """A viewer joins the waitlist on the socket."""
        answer = self.app.run(
            self._socket(viewer, {"type": "waitlist", "product_id": self.product_id})
        )
        if viewer in self.queue or self._offer_of(viewer) is not None:
            assert answer["type"] == "ack", answer
        elif self._available() - len(self.queue) >= 1:
            assert answer.get("code") == "in_stock", answer
        elif self._units(viewer) + 1 > self.limit:
            assert answer.get("code") == "limit_exceeded", answer
        else:
            assert answer["type"] == "ack", answer
            self.queue.append(viewer)

    @rule()
    def crowd_joins(self) -> None:
        """Every viewer tries to join, in turn (a sell-out announced to the room)."""
        for viewer in VIEWERS:
            self.join(viewer)

    @rule(viewer=st.sampled_from(VIEWERS))
    def leave(self, viewer: str) -> None:
        """A viewer leaves the waitlist; with an offer held it declines it."""
        answer = self.app.run(
            self._socket(viewer, {"type": "leave_waitlist", "product_id": self.product_id})
        )
        offer = self._offer_of(viewer)
        if viewer in self.queue:
            assert answer["status"] == "left", answer
            self.queue.remove(viewer)
        elif offer is not None:
            assert answer["status"] == "passed", answer
            offer.status = "passed"
        else:
            assert answer.get("code") == "not_found", answer
        self._offers_due()

    @rule(viewer=st.sampled_from(VIEWERS))
    def take(self, viewer: str) -> None:
        """A viewer holding an offer takes it with a buy naming it."""
        offer = self._offer_of(viewer)
        if offer is None:
            return
        message = {
            "type": "buy",
            "product_id": self.product_id,
            "qty": 1,
            "key": uuid.uuid4().hex,
            "offer_id": offer.order_id,
        }
        answer = self.app.run(self._socket(viewer, message))
        assert answer["type"] == "ack", answer
        assert answer["order"]["order_id"] == offer.order_id
        offer.status = "reserved"

    @rule(pick=PICK)
    def expire(self, pick: int) -> None:
        """A hold or an offer lapses (the reaper's settlement, called as if its time had come)."""
        # In the order the orders were made (their ids are random: sorting them would not
        # pick the same order when hypothesis replays the example).
        holding = [o.order_id for o in self.orders.values() if o.status in order_records.HOLDING]
        if not holding:
            return
        order = self.orders[holding[pick % len(holding)]]
        self.app.run(_retrying(lambda: holds.expire(self.app.ctx, self.session_id, order.order_id)))
        order.status = "passed" if order.status == "offered" else "expired"
        self._offers_due()

    @rule(pick=PICK)
    def cancel(self, pick: int) -> None:
        """The buyer cancels a reserved order."""
        reserved = [o.order_id for o in self.orders.values() if o.status == "reserved"]
        if not reserved:
            return
        order = self.orders[reserved[pick % len(reserved)]]
        principal = self._principal(order.viewer)
        answer = self.app.run(
            _retrying(lambda: holds.cancel(self.app.ctx, principal, order.order_id))
        )
        assert answer["status"] == "cancelled"
        order.status = "cancelled"
        self._offers_due()

    @rule(pick=PICK)
    def pay(self, pick: int) -> None:
        """The provider notifies the payment of a reserved order."""
        reserved = [o.order_id for o in self.orders.values() if o.status == "reserved"]
        if not reserved:
            return
        order = self.orders[reserved[pick % len(reserved)]]

        async def notify() -> dict[str, Any]:
            async with transaction(self.app.ctx.db) as db:
                row = await db.get(OrderRow, order.order_id)
            assert row is not None
            return await payments.notify(
                self.app.ctx,
                order_id=order.order_id,
                paid_amount_cents=row.amount_cents,
                provider_txn_id=f"txn-{order.order_id}",
            )

        assert self.app.run(_retrying(notify))["status"] == "paid"
        order.status = "paid"

    @precondition(lambda self: self.stock < 6)
    @rule(more=st.integers(1, 2))
    def add_stock(self, more: int) -> None:
        """The host adds units: waiting viewers get them first."""

        async def put() -> int:
            async with self.app.server.client(self.app.server.token("host", "h")) as host:
                answer = await host.put(
                    f"/api/sessions/{self.session_id}/products/{self.product_id}/stock",
                    json={"stock": self.stock + more},
                )
            if answer.status_code == 503:
                raise ClientError(Code.UNAVAILABLE, answer.text)
            return answer.status_code

        assert self.app.run(_retrying(put)) == 200
        self.stock += more
        self._offers_due()

    @precondition(lambda self: self.restarts < 2)
    @rule()
    def restart_redis(self) -> None:
        """Valkey dies and comes back empty; the state is rebuilt from the record."""
        self.restarts += 1
        # Refusals are recorded in Redis only: after a loss a refused key is a new attempt.
        self.last_buy = None
        self.app.valkey.kill()
        self.app.valkey.start()

        async def rebuilt() -> None:
            await stock_recovery.check(self.app.ctx)
            epoch = await inventory_recovery.run_id(self.app.ctx.redis)
            healthy = await inventory_recovery.healthy(
                self.app.ctx.redis, self.session_id, epoch=epoch, product_ids=[self.product_id]
            )
            if not healthy:
                raise InventoryUnavailable("not rebuilt yet")

        self.app.run(_retrying(rebuilt))

    def teardown(self) -> None:
        """End the session, so later Redis restarts leave it alone."""
        if hasattr(self, "session_id"):
            host = self._principal("host-1", Role.HOST)
            self.app.run(_retrying(lambda: lifecycle.end(self.app.ctx, host, self.session_id)))

    # ---- what must hold ----

    async def _observe(self) -> dict[str, Any]:
        ctx = self.app.ctx
        async with transaction(ctx.db) as db:
            product = await db.get(ProductRow, self.product_id)
            assert product is not None
            orders = (
                await db.execute(
                    select(OrderRow.id, OrderRow.viewer_id, OrderRow.status).where(
                        OrderRow.session_id == self.session_id
                    )
                )
            ).all()
            entries = (
                await db.execute(
                    select(
                        WaitlistEntryRow.viewer_id,
                        WaitlistEntryRow.status,
                        WaitlistEntryRow.order_id,
                    )
                    .where(WaitlistEntryRow.session_id == self.session_id)
                    .order_by(WaitlistEntryRow.id)
                )
            ).all()
        queue = await ctx.redis.zrange(
            inventory_keys.waitlist(self.session_id, self.product_id), 0, -1
        )
        lines = await read(ctx.db, ctx.redis, self.session_id)
        return {
            "committed": product.committed_qty,
            "orders": {order_id: (viewer, status) for order_id, viewer, status in orders},
            "entries": list(entries),
            "queue": [v.decode() if isinstance(v, bytes) else str(v) for v in queue],
            "line": lines[0],
        }

    def _settled(self) -> dict[str, Any]:
        """Wait until the app's offers match the model's (the pumps run in the background);
        then learn the ids of the offers the model predicted."""

        async def wait() -> dict[str, Any]:
            expected_offers = sorted(
                o.viewer for o in self.orders.values() if o.status == "offered"
            )
            seen: dict[str, Any] = {}
            for _ in range(int(SETTLE_S / 0.05)):
                try:
                    seen = await self._observe()
                except (InventoryUnavailable, BusUnavailable, ClientError):
                    await asyncio.sleep(0.05)  # Redis or the record coming back
                    continue
                offered = sorted(v for v, s in seen["orders"].values() if s == "offered")
                if offered == expected_offers and seen["queue"] == self.queue:
                    return seen
                await asyncio.sleep(0.05)  # the background pump or sweep is on its way
            raise AssertionError(
                f"offers/queue never matched the model: model offers {expected_offers}, queue "
                f"{self.queue}; record {seen.get('orders')}, Redis queue {seen.get('queue')}"
            )

        seen = self.app.run(wait())
        for placeholder in [k for k in self.orders if k.startswith("offer-to-")]:
            model = self.orders.pop(placeholder)
            real = next(
                order_id
                for order_id, (viewer, status) in seen["orders"].items()
                if viewer == model.viewer and status == "offered" and order_id not in self.orders
            )
            self.orders[real] = Order(real, model.viewer, 1, "offered")
        return seen

    @invariant()
    def record_redis_and_model_agree(self) -> None:
        """Committed units match the model and never pass the stock or a viewer's limit; every
        order's status is the model's; each waitlist entry had one offer at most; the Redis
        queue is the record's waiting entries in order; stock + held == allocation - sold."""
        if not hasattr(self, "session_id"):
            return
        seen = self._settled()
        assert seen["committed"] == self._units() <= self.stock, "oversold"
        for viewer in VIEWERS:
            assert self._units(viewer) <= self.limit
        assert seen["orders"] == {o.order_id: (o.viewer, o.status) for o in self.orders.values()}
        waiting = [viewer for viewer, status, _ in seen["entries"] if status == "waiting"]
        assert waiting == self.queue == seen["queue"]
        offers = [order_id for _, _, order_id in seen["entries"] if order_id is not None]
        assert len(offers) == len(set(offers)), "an entry or an offer counted twice"
        sold = sum(o.qty for o in self.orders.values() if o.status == "paid")
        line = seen["line"]
        assert line.stock is not None
        assert (line.stock + line.held, line.sold) == (self.stock - sold, sold)


def test_waitlist_state_machine(app_thread: AppThread) -> None:
    """Any interleaving of socket buys, waitlist joins, leaves, takes, expiries, cancels,
    payments, stock added and Redis restarts keeps the invariants."""
    WaitlistMachine.app = app_thread
    run_state_machine_as_test(
        WaitlistMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
