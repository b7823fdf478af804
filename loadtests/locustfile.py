"""Locust scenarios: viewers on the room socket, buyers over HTTP, one host driving the session.

Run it with ``loadtests/run_locust`` (a fresh ``live serve`` on embedded defaults, locust
headless, loopback only), or by hand against a running server whose secrets you know:

    LIVE_SECRET=... LIVE_PAYMENT_SECRET=... .venv/bin/locust -f loadtests/locustfile.py \
        --headless -u 300 -r 50 -t 60s --host http://127.0.0.1:8000

Set-up (`on_test_start`): a host token minted from ``LIVE_SECRET`` creates one session with
``LOAD_PRODUCTS`` products and starts it; every user works in that session.

- `Viewer` (custom `User`, the `websocket-client` library, which gevent makes cooperative):
  joins the room, comments, likes and claims the coupons it saw dropped. Reported per name:
  ``WS connect`` (socket open -> first frame), ``WS ack`` of each message (sent -> ``ack``;
  an ``error`` answer is a failure, except the coupon refusals of `EXPECTED_REFUSALS`),
  ``WS event`` (durable events: the event's server ``ts`` -> received, the delivery latency
  on this machine's one clock), and ``WS frame`` (count and bytes of every frame type
  received, response time 0).
- `Buyer` (`FastHttpUser`): places orders with an ``Idempotency-Key``, replays one key in ten
  (the answer must name the same order), and pays the order with a signed notification.
  ``sold_out``, ``limit_exceeded`` and ``sale_not_open`` are answers, not failures.
- `Host` (exactly one): pins and unpins products, drops coupons, opens a short flash sale.
"""

import hashlib
import hmac
import itertools
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import gevent
import orjson
import requests
import websocket
from locust import FastHttpUser, User, between, events, task
from locust.env import Environment
from locust.exception import StopUser

from live.auth import tokens

BRAND = os.environ.get("LOAD_BRAND", "load")
PRODUCTS = int(os.environ.get("LOAD_PRODUCTS", "5"))
#: Units per product: large enough that a run measures selling, not refusing.
STOCK = int(os.environ.get("LOAD_STOCK", "1000000"))
ACK_TIMEOUT_S = 10.0
#: Order refusals that are answers, not failures (a sale ending is refused until it closes).
ORDER_REFUSALS = {"sold_out", "limit_exceeded", "sale_not_open"}
#: Claim refusals that are the expected outcome under load, not failures.
EXPECTED_REFUSALS = {"coupon_sold_out", "coupon_limit_exceeded", "coupon_expired"}


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if len(value) < 32:
        raise SystemExit(f"locustfile: set {name} to the server's value (at least 32 characters)")
    return value


@dataclass
class LoadSession:
    """The session every user of the run works in, created by `on_test_start`."""

    session_id: str = ""
    ws_base: str = ""
    product_ids: list[str] = field(default_factory=list)
    prices: dict[str, int] = field(default_factory=dict)


SESSION = LoadSession()
_serial = itertools.count(1)


def _token(role: str, prefix: str, **claims: Any) -> str:
    """A token of a user of its own (the server limits comments and sockets per user)."""
    sub = f"{prefix}-{next(_serial)}-{uuid.uuid4().hex[:6]}"
    return tokens.mint(_secret("LIVE_SECRET"), sub=sub, role=role, brand=BRAND, **claims)


@events.test_start.add_listener
def create_session(environment: Environment, **_: Any) -> None:
    """Create, stock and start the session of this run as a host."""
    base = (environment.host or "").rstrip("/")
    host_token = _token("host", "setup-host")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {host_token}"
    created = http.post(f"{base}/api/sessions", json={"title": "Load test"}, timeout=10)
    created.raise_for_status()
    SESSION.session_id = created.json()["id"]
    SESSION.ws_base = created.json()["ws_url"]
    for n in range(PRODUCTS):
        price = 1_000 * (n + 1)
        product = http.post(
            f"{base}/api/sessions/{SESSION.session_id}/products",
            json={"sku": f"LOAD-{n}", "title": f"Item {n}", "price_cents": price, "stock": STOCK},
            timeout=10,
        )
        product.raise_for_status()
        SESSION.product_ids.append(product.json()["product_id"])
        SESSION.prices[product.json()["product_id"]] = price
    http.post(f"{base}/api/sessions/{SESSION.session_id}/start", timeout=10).raise_for_status()


def _now_ms() -> float:
    return time.time() * 1000


class Viewer(User):
    """A viewer on the room socket: comments, likes, coupon claims."""

    weight = 6
    # The server allows 1 comment/s with a burst of 3 per user; stay under it.
    wait_time = between(1, 3)

    def on_start(self) -> None:
        token = _token("viewer", "viewer", name="Viewer")
        self._coupons: list[str] = []
        self._pending: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._refs = itertools.count(1)
        url = f"{SESSION.ws_base}?token={token}"
        started = time.perf_counter()
        try:
            self._socket = websocket.create_connection(url, timeout=ACK_TIMEOUT_S)
            first = self._socket.recv()
        except (OSError, websocket.WebSocketException) as exc:
            self._fire("WS connect", "join", started, exception=exc)
            raise StopUser from exc
        self._fire("WS connect", "join", started, length=len(first))
        self._receive(first)
        self._reader = gevent.spawn(self._read_loop)

    def on_stop(self) -> None:
        self._socket.close()
        self._reader.kill(block=False)

    def _fire(
        self,
        kind: str,
        name: str,
        started: float,
        *,
        length: int = 0,
        exception: BaseException | None = None,
    ) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )

    def _read_loop(self) -> None:
        self._socket.settimeout(None)
        while True:
            try:
                raw = self._socket.recv()
            except (OSError, websocket.WebSocketException):
                return
            if not raw:
                return
            self._receive(raw)

    def _receive(self, raw: str | bytes) -> None:
        received_ms = _now_ms()
        data = orjson.loads(raw)
        frames = data if isinstance(data, list) else [data]
        for frame in frames:
            kind = str(frame.get("type"))
            self.environment.events.request.fire(
                request_type="WS frame",
                name=kind,
                response_time=0,
                response_length=len(raw) // len(frames),
                exception=None,
                context={},
            )
            if "seq" in frame and "ts" in frame:
                self.environment.events.request.fire(
                    request_type="WS event",
                    name=kind,
                    response_time=max(0.0, received_ms - frame["ts"]),
                    response_length=len(raw),
                    exception=None,
                    context={},
                )
            if kind == "coupon":
                self._coupons.append(frame["coupon_id"])
            elif kind == "snapshot":
                self._coupons.extend(c["coupon_id"] for c in frame.get("coupons", []))
            elif kind in {"ack", "error"} and "ref" in frame:
                self._answered(frame)

    def _answered(self, frame: dict[str, Any]) -> None:
        with self._lock:
            pending = self._pending.pop(str(frame["ref"]), None)
        if pending is None:
            return
        name, started = pending
        error = None
        if frame["type"] == "error" and frame.get("code") not in EXPECTED_REFUSALS:
            error = RuntimeError(frame.get("code", "error"))
        self._fire("WS ack", name, started, exception=error)

    def _send(self, name: str, message: dict[str, Any]) -> None:
        ref = str(next(self._refs))
        now = time.perf_counter()
        with self._lock:
            stale = [r for r, (_, t) in self._pending.items() if now - t > ACK_TIMEOUT_S]
            timed_out = [(r, self._pending.pop(r)) for r in stale]
            self._pending[ref] = (name, now)
        for _, (stale_name, stale_started) in timed_out:
            self._fire("WS ack", stale_name, stale_started, exception=TimeoutError("no answer"))
        try:
            self._socket.send(orjson.dumps({**message, "ref": ref}).decode())
        except (OSError, websocket.WebSocketException) as exc:
            self._fire("WS ack", name, now, exception=exc)
            raise StopUser from exc

    @task(5)
    def comment(self) -> None:
        """Say something, sometimes the same short word as everybody else."""
        text = random.choice(["666", "nice!", "price?", f"size M please #{random.randint(1, 99)}"])
        self._send("comment", {"type": "comment", "text": text})

    @task(3)
    def like(self) -> None:
        """Send a few likes."""
        self._send("like", {"type": "like", "count": random.randint(1, 5)})

    @task(1)
    def claim(self) -> None:
        """Claim the newest coupon seen and not tried yet (one claim each per viewer)."""
        if self._coupons:
            self._send("claim", {"type": "claim", "coupon_id": self._coupons.pop()})


class Buyer(FastHttpUser):
    """A buyer: order with an idempotency key, sometimes retry it, then pay."""

    weight = 3
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        token = _token("viewer", "buyer", name="Buyer")
        self._auth = {"Authorization": f"Bearer {token}"}
        self._payment_secret = _secret("LIVE_PAYMENT_SECRET").encode()

    def _order(self, key: str, product_id: str) -> dict[str, Any] | None:
        with self.client.post(
            f"/api/sessions/{SESSION.session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={**self._auth, "Idempotency-Key": key},
            name="/api/sessions/[id]/orders",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                body: dict[str, Any] = response.json()
                return body
            code = (response.json() or {}).get("error", {}).get("code") if response.text else None
            if response.status_code == 409 and code in ORDER_REFUSALS:
                response.success()
            else:
                response.failure(f"{response.status_code} {code}")
            return None

    @task
    def buy(self) -> None:
        """Reserve one unit, replay the key one time in ten, pay."""
        product_id = random.choice(SESSION.product_ids)
        key = uuid.uuid4().hex
        order = self._order(key, product_id)
        if order is None:
            return
        if random.random() < 0.1:
            again = self._order(key, product_id)
            if again is not None and again["order_id"] != order["order_id"]:
                self.environment.events.request.fire(
                    request_type="CHECK",
                    name="same key, same order",
                    response_time=0,
                    response_length=0,
                    exception=RuntimeError("a replayed key answered another order"),
                    context={},
                )
        body = orjson.dumps(
            {
                "order_id": order["order_id"],
                "paid_amount_cents": order["amount_cents"],
                "provider_txn_id": f"txn-{uuid.uuid4().hex}",
            }
        )
        signature = hmac.new(self._payment_secret, body, hashlib.sha256).hexdigest()
        self.client.post(
            "/api/payments/notify",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature": signature},
            name="/api/payments/notify",
        )


class Host(FastHttpUser):
    """The host: pins, unpins, coupon drops and a short flash sale."""

    fixed_count = 1
    wait_time = between(1, 2)

    def on_start(self) -> None:
        token = _token("host", "host")
        self._auth = {"Authorization": f"Bearer {token}"}
        self._base = f"/api/sessions/{SESSION.session_id}"

    @task(4)
    def pin(self) -> None:
        """Pin the product being explained."""
        self.client.post(
            f"{self._base}/pin",
            json={"product_id": random.choice(SESSION.product_ids)},
            headers=self._auth,
            name="/api/sessions/[id]/pin",
        )

    @task(1)
    def unpin(self) -> None:
        """Take the pin down."""
        self.client.delete(f"{self._base}/pin", headers=self._auth, name="/api/sessions/[id]/pin")

    @task(2)
    def drop_coupon(self) -> None:
        """Drop a coupon of 100 claims, one per viewer."""
        self.client.post(
            f"{self._base}/coupons",
            json={
                "title": "5 off",
                "kind": "amount_off",
                "value": 500,
                "quantity": 100,
                "per_viewer_limit": 1,
            },
            headers=self._auth,
            name="/api/sessions/[id]/coupons",
        )

    @task(1)
    def flash_sale(self) -> None:
        """Open a 5 s flash sale on a product (refused while that product has one open)."""
        product_id = random.choice(SESSION.product_ids)
        with self.client.post(
            f"{self._base}/sales",
            json={
                "product_id": product_id,
                "sale_price_cents": SESSION.prices[product_id] // 2,
                "stock_cap": 50,
                "per_viewer_limit": 1,
                "duration_s": 5,
            },
            headers=self._auth,
            name="/api/sessions/[id]/sales",
            catch_response=True,
        ) as response:
            if response.status_code == 409 and b'"conflict"' in (response.content or b""):
                response.success()  # another sale of this product is still open
