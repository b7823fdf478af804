"""``live demo``: the server on its embedded defaults, seeded with a brand, stores, guides and a
live session, with the three pages' URLs printed and, with ``--viewers N``, simulated viewers
who comment, like, claim coupons and buy (and pay) so the host panel comes alive.

The seeding and the viewers go through the public HTTP API and room socket, as a brand's
backend and its mini programs would: the demo shows the contract, not a shortcut around it.
Development sign-in (``LIVE_DEV_SIGNIN``) is on, so the pages can mint tokens for new names.
"""

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import random
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from common import codec
from live.auth import tokens
from live.cli import demo_pictures, startup
from live.platform import data_lock
from live.platform.settings import Settings
from live.platform.ws_protocol import websocket_options

log = logging.getLogger(__name__)

BRAND = "demo"
HOST = ("hana", "Hana")
STORES = [("sh-01", "Shanghai Jing'an"), ("bj-01", "Beijing Sanlitun")]
#: (guide id, name, store, upstream guide)
GUIDES = [
    ("lin", "Lin", "sh-01", None),
    ("wei", "Wei", "sh-01", "lin"),
    ("zhou", "Zhou", "bj-01", None),
]
#: (sku, title, price, stock, per-viewer limit, options); a product right after one of the
#: same title is a variant of it.
PRODUCTS: list[tuple[str, str, int, int, int | None, dict[str, str] | None]] = [
    ("COAT-01-S", "Wool coat", 59_900, 10, 2, {"size": "S"}),
    ("COAT-01-M", "Wool coat", 59_900, 18, 2, {"size": "M"}),
    ("COAT-01-L", "Wool coat", 59_900, 12, 2, {"size": "L"}),
    ("SCARF-01", "Cashmere scarf", 19_900, 80, 3, None),
    ("BOOT-01", "Leather boots", 89_900, 25, 1, None),
    ("BAG-01", "Canvas tote", 9_900, 150, None, None),
]
#: The demo's earlier session, ended, so its replay and clips can be opened and shared.
PAST_TITLE = "Summer preview"
PAST_EXPLAIN_S = 5.0
PAST_COMMENTS = [
    ["Love the linen!", "Is it lined?", "Size M please"],
    ["So soft", "Does it come in blue?", "666"],
]
COMMENTS = [
    "666",
    "So pretty!",
    "Does it come in black?",
    "How tall is the model?",
    "Size M please",
    "Just bought one!",
    "Is shipping free?",
    "Love this colour",
    "Restock please",
    "Cute!",
]
TOKEN_TTL_S = 12 * 3600
#: The demo's next session, scheduled a day ahead: its countdown page takes reservations.
PREVIEW_TITLE = "Winter preview"
PREVIEW_IN_MS = 24 * 3600 * 1000
#: (viewer, guide whose link they reserved through)
PREVIEW_RESERVATIONS = [("amy", "wei"), ("bo", "wei"), ("chen", "lin"), ("dan", "zhou")]


class DemoError(Exception):
    """The demo could not seed the server (an API answer it did not expect)."""


@dataclass(frozen=True)
class Seeded:
    """What the demo created, and how to open it."""

    base_url: str
    session_id: str
    host_token: str
    guide_tokens: dict[str, str]
    viewer_token: str
    share_codes: dict[str, str]
    #: The scheduled session (its countdown page) and Wei's share code for it.
    preview_id: str
    preview_share: str

    def urls(self) -> dict[str, str]:
        """The three pages, signed in."""
        wei = self.guide_tokens["wei"]
        return {
            "host": f"{self.base_url}/host?session={self.session_id}&token={self.host_token}",
            "guide": f"{self.base_url}/guide?session={self.session_id}&token={wei}",
            "viewer": (
                f"{self.base_url}/watch/{self.session_id}"
                f"?share={self.share_codes['wei']}&token={self.viewer_token}"
            ),
            "countdown": (
                f"{self.base_url}/watch/{self.preview_id}"
                f"?share={self.preview_share}&token={self.viewer_token}"
            ),
        }


class Api:
    """JSON calls to the demo's own server: urllib in a thread (no extra dependency)."""

    def __init__(self, base_url: str, settings: Settings) -> None:
        self.base_url = base_url
        self.settings = settings

    def token(self, role: str, sub: str, **claims: Any) -> str:
        """A token of the demo brand."""
        return tokens.mint(
            self.settings.secret, sub=sub, role=role, brand=BRAND, ttl_s=TOKEN_TTL_S, **claims
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """``(status, decoded JSON)``."""
        data = raw if raw is not None else (None if body is None else codec.encode(body))
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310 (our own http:// base URL)
            self.base_url + path, data=data, method=method, headers=all_headers
        )
        return await asyncio.to_thread(self._send, request)

    @staticmethod
    def _send(request: urllib.request.Request) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return answer.status, codec.decode(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, codec.decode(exc.read() or b"null")

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer of a call that must succeed."""
        status, answer = await self.call(method, path, **kwargs)
        if status >= 300:
            raise DemoError(f"{method} {path} answered {status}: {answer}")
        return answer

    async def pay(self, order: dict[str, Any]) -> None:
        """Notify the payment of ``order``, signed as the payment provider signs it."""
        body = codec.encode(
            {
                "order_id": order["order_id"],
                "paid_amount_cents": order["amount_cents"],
                "provider_txn_id": f"demo-{uuid.uuid4().hex}",
            }
        )
        key = self.settings.payment_secret.encode()
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
        await self.call(
            "POST", "/api/payments/notify", raw=body, headers={"X-Signature": signature}
        )


async def seed(api: Api, *, language: str | None = None) -> Seeded:
    """Brand (its page language when given), stores, guides, commission plan, and a live session
    with products, one pinned."""
    admin = api.token("admin", "demo-admin", name="Admin")
    await api.ok("PUT", "/api/org/brand", token=admin, body={"name": "Maison Lune"})
    if language is not None:
        await api.ok("PUT", "/api/brands/me/policy", token=admin, body={"language": language})
    for store_id, name in STORES:
        await api.ok("PUT", f"/api/org/stores/{store_id}", token=admin, body={"name": name})
    for guide_id, name, store_id, upstream in GUIDES:
        guide = {"name": name, "store_id": store_id, "upstream_guide_id": upstream}
        await api.ok("PUT", f"/api/org/guides/{guide_id}", token=admin, body=guide)
    plan = {"rate_bp": 1000, "upstream_rate_bp": 200}
    await api.ok("PUT", "/api/brands/me/commission", token=admin, body=plan)
    host = api.token("host", HOST[0], name=HOST[1])
    await _past_session(api, host)
    session = await api.ok("POST", "/api/sessions", token=host, body={"title": "Autumn drop live"})
    session_id = session["id"]
    product_ids = await _products(api, host, session_id, PRODUCTS)
    cover = demo_pictures.picture("COVER", "Autumn drop", width=750, height=520)
    await api.ok("POST", f"/api/sessions/{session_id}/cover", token=host, raw=cover)
    await api.ok("POST", f"/api/sessions/{session_id}/start", token=host)
    await api.ok(
        "POST", f"/api/sessions/{session_id}/pin", token=host, body={"product_id": product_ids[0]}
    )
    guide_tokens = {
        guide_id: api.token("guide", guide_id, name=name, store=store_id)
        for guide_id, name, store_id, _ in GUIDES
    }
    share_codes = {}
    for guide_id, token in guide_tokens.items():
        shared = await api.ok("GET", f"/api/guides/me/share?session_id={session_id}", token=token)
        share_codes[guide_id] = shared["code"]
    preview_id, preview_shares = await _preview_session(api, host, guide_tokens)
    return Seeded(
        base_url=api.base_url,
        session_id=session_id,
        host_token=host,
        guide_tokens=guide_tokens,
        viewer_token=api.token("viewer", "you", name="You"),
        share_codes=share_codes,
        preview_id=preview_id,
        preview_share=preview_shares["wei"],
    )


async def _products(
    api: Api,
    host: str,
    session_id: str,
    products: list[tuple[str, str, int, int, int | None, dict[str, str] | None]],
) -> list[str]:
    """Add the products, each group with its picture (uploaded once, shared by its variants);
    their ids in order."""
    ids: list[str] = []
    first_of: dict[str, str] = {}
    images: dict[str, str] = {}
    path = f"/api/sessions/{session_id}/products"
    for sku, title, price, stock, limit, options in products:
        product: dict[str, Any] = {
            "sku": sku,
            "title": title,
            "price_cents": price,
            "stock": stock,
            "limit_per_viewer": limit,
            "options": options,
        }
        if title in first_of:
            product["variant_of"] = first_of[title]
            product["image_url"] = images[title]
        added = await api.ok("POST", path, token=host, body=product)
        ids.append(added["product_id"])
        if title not in first_of:
            first_of[title] = added["product_id"]
            picture = demo_pictures.picture(sku.split("-")[0], title)
            shown = await api.ok(
                "POST", f"{path}/{added['product_id']}/image", token=host, raw=picture
            )
            images[title] = shown["image_url"]
    return ids


async def _preview_session(
    api: Api, host: str, guide_tokens: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """A session scheduled a day ahead with a cover and two products, reserved by a few
    viewers through guides' links: (its id, each guide's share code)."""
    body = {"title": PREVIEW_TITLE, "starts_at": int(time.time() * 1000) + PREVIEW_IN_MS}
    session_id = (await api.ok("POST", "/api/sessions", token=host, body=body))["id"]
    await _products(
        api,
        host,
        session_id,
        [
            ("COAT-W1", "Down jacket", 129_900, 30, 1, None),
            ("SCARF-W1", "Wool beanie", 12_900, 60, 3, None),
        ],
    )
    cover = demo_pictures.picture("COVER", PREVIEW_TITLE, width=750, height=900)
    await api.ok("POST", f"/api/sessions/{session_id}/cover", token=host, raw=cover)
    shares = {}
    for guide_id, token in guide_tokens.items():
        path = f"/api/guides/me/share?session_id={session_id}"
        shares[guide_id] = (await api.ok("GET", path, token=token))["code"]
    for viewer, guide_id in PREVIEW_RESERVATIONS:
        await api.ok(
            "POST",
            f"/api/sessions/{session_id}/reservations",
            token=api.token("viewer", viewer, name=viewer.capitalize()),
            body={"share": shares[guide_id]},
        )
    return session_id, shares


async def _past_session(api: Api, host: str) -> None:
    """An ended session with two products explained, so replays and clips have something."""
    session = await api.ok("POST", "/api/sessions", token=host, body={"title": PAST_TITLE})
    session_id = session["id"]
    ids = await _products(
        api,
        host,
        session_id,
        [
            ("COAT-P1", "Linen coat", 49_900, 20, 2, None),
            ("SCARF-P1", "Silk scarf", 15_900, 40, 3, None),
        ],
    )
    await api.ok("POST", f"/api/sessions/{session_id}/start", token=host)
    viewer = api.token("viewer", "mei", name="Mei")
    url = api.base_url.replace("http", "ws", 1) + f"/ws/sessions/{session_id}?token={viewer}"
    async with connect(url, compression=None) as socket:
        for product_id, said in zip(ids, PAST_COMMENTS, strict=True):
            pin = {"product_id": product_id}
            await api.ok("POST", f"/api/sessions/{session_id}/pin", token=host, body=pin)
            for text in said:
                await socket.send(codec.encode_text({"type": "comment", "text": text}))
                # Each clip needs some length of session time, with comments along it.
                await asyncio.sleep(PAST_EXPLAIN_S / len(said))
    await api.ok("POST", f"/api/sessions/{session_id}/end", token=host)


class Viewer:
    """One simulated viewer: joins (half through a guide's code), then every few seconds
    comments, likes, claims a dropped coupon or buys the pinned product and pays (mostly)."""

    def __init__(self, api: Api, seeded: Seeded, number: int, rng: random.Random) -> None:
        self.api = api
        self.seeded = seeded
        self.sub = f"sim-{number}"
        self.token = api.token("viewer", self.sub, name=f"Viewer {number}")
        guides = sorted(seeded.share_codes)
        self.share = seeded.share_codes[guides[number % len(guides)]] if number % 2 == 0 else None
        self.rng = rng
        self.pinned: str | None = None
        self.coupons: list[str] = []
        self.claimed: list[str] = []

    async def run(self, stopping: asyncio.Event) -> None:
        """Stay in the room until ``stopping`` is set or the session ends."""
        query = f"token={self.token}" + (f"&share={self.share}" if self.share else "")
        url = self.seeded.base_url.replace("http", "ws", 1)
        url += f"/ws/sessions/{self.seeded.session_id}?{query}"
        while not stopping.is_set():
            try:
                async with connect(url, compression=None) as socket:
                    reader = asyncio.create_task(self._read(socket))
                    try:
                        await self._act(socket, stopping, reader)
                    finally:
                        reader.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await reader
                    if reader.done() and not stopping.is_set():
                        return  # the session ended (close 1000)
            except (OSError, WebSocketException) as exc:
                log.debug("viewer %s: %s; rejoining", self.sub, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1 + self.rng.random())

    async def _read(self, socket: Any) -> None:
        async for raw in socket:
            data = codec.decode(raw)
            for frame in data if isinstance(data, list) else [data]:
                kind = frame.get("type")
                if kind == "snapshot":
                    self.pinned = frame.get("pinned_product_id")
                    self.coupons = [c["coupon_id"] for c in frame.get("coupons", [])]
                elif kind == "pin":
                    self.pinned = frame["product_id"]
                elif kind == "unpin":
                    self.pinned = None
                elif kind == "coupon":
                    self.coupons.append(frame["coupon_id"])

    async def _act(
        self, socket: Any, stopping: asyncio.Event, reader: "asyncio.Task[None]"
    ) -> None:
        while not stopping.is_set() and not reader.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 1.5 + 3 * self.rng.random())
            roll = self.rng.random()
            if self.coupons:
                coupon_id = self.coupons.pop()
                if coupon_id not in self.claimed and self.rng.random() < 0.6:
                    self.claimed.append(coupon_id)
                    await socket.send(codec.encode_text({"type": "claim", "coupon_id": coupon_id}))
            if roll < 0.45:
                text = self.rng.choice(COMMENTS)
                await socket.send(codec.encode_text({"type": "comment", "text": text}))
            elif roll < 0.8:
                count = self.rng.randint(1, 5)
                await socket.send(codec.encode_text({"type": "like", "count": count}))
            elif roll < 0.9 and self.pinned:
                await self._buy(self.pinned)

    async def _buy(self, product_id: str) -> None:
        status, order = await self.api.call(
            "POST",
            f"/api/sessions/{self.seeded.session_id}/orders",
            token=self.token,
            body={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if status == 201 and self.rng.random() < 0.85:  # some viewers never pay
            await asyncio.sleep(1 + 2 * self.rng.random())
            await self.api.pay(order)


def _print_urls(seeded: Seeded, viewers: int) -> None:
    urls = seeded.urls()
    print(
        "\nlive demo is running (development sign-in is on: do not expose this server)\n\n"
        f"  host panel       {urls['host']}\n\n"
        f"  guide workspace  {urls['guide']}\n\n"
        f"  viewer           {urls['viewer']}\n\n"
        f"  countdown page   {urls['countdown']}\n\n"
        f"session {seeded.session_id}; {viewers} simulated viewers; Ctrl-C stops\n",
        flush=True,
    )


def _ignore(_signum: int, _frame: object) -> None:
    """Uvicorn already shut down on this signal; nothing is left to do."""


async def _run(
    settings: Settings,
    host: str,
    port: int,
    viewers: int,
    seed_rng: int | None,
    language: str | None,
) -> None:
    from live.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        **websocket_options(settings),
        timeout_graceful_shutdown=3,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving  # start-up failed: raise its error
            return
        await asyncio.sleep(0.05)
    shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104 (a comparison)
    api = Api(f"http://{shown}:{server.servers[0].sockets[0].getsockname()[1]}", settings)
    stopping = asyncio.Event()
    crowd: list[asyncio.Task[None]] = []
    try:
        seeded = await seed(api, language=language)
        _print_urls(seeded, viewers)
        rng = random.Random(seed_rng)  # noqa: S311 (simulation, not security)
        for number in range(viewers):
            viewer = Viewer(api, seeded, number, random.Random(rng.random()))  # noqa: S311
            crowd.append(asyncio.create_task(viewer.run(stopping), name=f"viewer-{number}"))
        await serving
    finally:
        stopping.set()
        for task in crowd:
            task.cancel()
        await asyncio.gather(*crowd, return_exceptions=True)
        server.should_exit = True
        await serving


def run(
    settings: Settings,
    *,
    host: str,
    port: int,
    viewers: int,
    seed: int | None = None,
    language: str | None = None,
) -> int:
    """Run the demo until interrupted; 0 after a clean stop, 2 when seeding failed. With
    ``language`` (``en``, ``zh-CN``) the demo brand's pages speak it whatever the browser's."""
    # The development payment provider lets a viewer pay from the page (unless the environment
    # names a real one), so the guide sees commission from a real click-through.
    provider = "dev" if settings.payment_provider == "none" else settings.payment_provider
    settings = dataclasses.replace(settings, dev_signin=True, payment_provider=provider)
    # Uvicorn handles SIGINT/SIGTERM itself, then re-raises the signal to the previous handler
    # once it has shut down; that handler must not raise inside the event loop, so the viewers
    # are stopped and the demo returns 0 after a graceful shutdown.
    lock, refusal = startup.claim(settings, host, port)
    if refusal is not None:
        print(f"live: error: {refusal}", file=sys.stderr)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)
    try:
        asyncio.run(_run(settings, host, port, viewers, seed, language))
    except DemoError as exc:
        print(f"live: error: the demo could not seed the server: {exc}", file=sys.stderr)
        return 2
    finally:
        if lock is not None:
            data_lock.release(lock)
    return 0
