"""A stateful model of one product's sale: reserve, pay, expire, cancel and Redis restarts in
any order keep the record and Redis consistent after every step.

The app runs on a loop of its own thread (hypothesis drives rules synchronously), on a private
Valkey that the machine kills and restarts without persistence.
"""

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from common.errors import ClientError, Code
from inventory import recovery as inventory_recovery
from inventory.errors import InventoryUnavailable
from live.auth.tokens import Principal, Role
from live.commerce import holds, order_records, orders, payments, stock_recovery
from live.commerce.stock_invariant import read
from live.context import Context
from live.db.models import OrderRow, ProductRow
from live.db.unit import transaction
from live.platform.embedded_valkey import EmbeddedValkey
from live.sessions import lifecycle
from realtime.bus import BusUnavailable
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.sessions import OpenSession, open_session
from tests.support.units import UNIT_S

T = TypeVar("T")
VIEWERS = ("v0", "v1", "v2")
RETRY = {Code.UNAVAILABLE, Code.SALE_PAUSED, Code.REQUEST_IN_PROGRESS}


class AppThread:
    """An app instance serving from its own event loop in a thread."""

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
        )
        self.server: LiveServer = self.run(start_server(settings))
        self.ctx: Context = self.server.context

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the app's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60 * UNIT_S)

    def close(self) -> None:
        """Stop the app, the loop and the Valkey server."""
        self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10 * UNIT_S)
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
    """The model's view of one order."""

    order_id: str
    viewer: str
    qty: int
    amount_cents: int
    status: str = order_records.RESERVED


async def _retrying(work: Any) -> Any:
    """Call ``work()`` until Redis answers (a restart leaves broken connections behind)."""
    for _ in range(200):
        try:
            return await work()
        except (InventoryUnavailable, BusUnavailable):
            pass
        except ClientError as exc:
            if exc.code not in RETRY:
                raise
        await asyncio.sleep(0.02)  # a client's back-off before retrying, as buyers do
    raise AssertionError("Redis state never came back")


class SaleMachine(RuleBasedStateMachine):
    """One product, a few viewers, and every way its stock moves."""

    app: AppThread
    placed = Bundle("placed")

    @initialize(stock=st.integers(1, 6), limit=st.integers(1, 3))
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
        self.restarts = 0

    def _principal(self, viewer: str, role: Role = Role.VIEWER) -> Principal:
        return Principal(sub=viewer, role=role, brand=self.app.server.brand)

    @rule(target=placed, viewer=st.sampled_from(VIEWERS), qty=st.integers(1, 2))
    def reserve(self, viewer: str, qty: int) -> str:
        """A viewer orders; the model predicts whether it must succeed."""
        held = sum(o.qty for o in self.orders.values() if o.status in order_records.COMMITTED)
        mine = sum(
            o.qty
            for o in self.orders.values()
            if o.viewer == viewer and o.status in order_records.COMMITTED
        )
        request = orders.OrderRequest(self.product_id, qty, None, uuid.uuid4().hex)

        async def place() -> dict[str, Any] | Code:
            try:
                return await orders.place(
                    self.app.ctx, self._principal(viewer), self.session_id, request
                )
            except ClientError as exc:
                if exc.code in (Code.SOLD_OUT, Code.LIMIT_EXCEEDED):
                    return exc.code
                raise

        answer = self.app.run(_retrying(place))
        fits = held + qty <= self.stock and mine + qty <= self.limit
        if isinstance(answer, Code):
            assert not fits, f"refused {answer} although {qty} fit"
            return ""
        assert fits, "sold beyond the stock or the per-viewer limit"
        order = Order(answer["order_id"], viewer, qty, answer["amount_cents"])
        self.orders[order.order_id] = order
        return order.order_id

    @rule(order_id=placed)
    def pay(self, order_id: str) -> None:
        """The provider notifies a payment; a lapsed hold asks for a refund instead."""
        order = self.orders.get(order_id)
        if order is None:
            return
        answer = self.app.run(
            payments.notify(
                self.app.ctx,
                order_id=order_id,
                paid_amount_cents=order.amount_cents,
                provider_txn_id=f"txn-{order_id}",
            )
        )
        if order.status == order_records.RESERVED:
            order.status = order_records.PAID
        elif order.status in (order_records.EXPIRED, order_records.CANCELLED):
            order.status = order_records.REFUND_REQUIRED
        assert answer["status"] == order.status

    @rule(order_id=placed)
    def expire(self, order_id: str) -> None:
        """The order's hold lapses (the reaper's settlement, called as if its time had come)."""
        order = self.orders.get(order_id)
        if order is None:
            return
        self.app.run(_retrying(lambda: holds.expire(self.app.ctx, self.session_id, order_id)))
        if order.status == order_records.RESERVED:
            order.status = order_records.EXPIRED

    @rule(order_id=placed)
    def cancel(self, order_id: str) -> None:
        """The buyer cancels; paid orders cannot be cancelled."""
        order = self.orders.get(order_id)
        if order is None:
            return

        async def cancel() -> str:
            try:
                answer = await holds.cancel(self.app.ctx, self._principal(order.viewer), order_id)
            except ClientError as exc:
                if exc.code == Code.CONFLICT:
                    return "conflict"
                raise
            return str(answer["status"])

        status = self.app.run(_retrying(cancel))
        if order.status == order_records.RESERVED:
            order.status = order_records.CANCELLED
        if order.status in (order_records.PAID, order_records.REFUND_REQUIRED):
            assert status == "conflict"
        else:
            assert status == order.status

    @precondition(lambda self: self.restarts < 2)
    @rule()
    def restart_redis(self) -> None:
        """Valkey dies and comes back empty; the state is rebuilt from the record."""
        self.restarts += 1
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

    @invariant()
    def record_and_redis_agree(self) -> None:
        """Committed units match the live orders, never exceed the stock or a viewer's limit,
        and Redis stock + held == allocation - sold."""
        if not hasattr(self, "session_id"):
            return
        committed = [o for o in self.orders.values() if o.status in order_records.COMMITTED]
        sold = sum(o.qty for o in self.orders.values() if o.status == order_records.PAID)

        async def observe() -> tuple[int, dict[str, str], Any]:
            async with transaction(self.app.ctx.db) as db:
                product = await db.get(ProductRow, self.product_id)
                statuses = dict(
                    (
                        await db.execute(
                            select(OrderRow.id, OrderRow.status).where(
                                OrderRow.session_id == self.session_id
                            )
                        )
                    ).all()
                )
                assert product is not None
            lines = await read(self.app.ctx.db, self.app.ctx.redis, self.session_id)
            return product.committed_qty, statuses, lines[0]

        committed_qty, statuses, line = self.app.run(_retrying(observe))
        assert committed_qty == sum(o.qty for o in committed) <= self.stock
        for viewer in VIEWERS:
            assert sum(o.qty for o in committed if o.viewer == viewer) <= self.limit
        assert statuses == {o.order_id: o.status for o in self.orders.values()}
        assert line.stock is not None
        assert line.stock + line.held == self.stock - sold
        assert line.sold == sold


def test_sale_state_machine(app_thread: AppThread) -> None:
    """Any interleaving of reserve, pay, expire, cancel and Redis restarts keeps the invariants."""
    SaleMachine.app = app_thread
    run_state_machine_as_test(
        SaleMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
