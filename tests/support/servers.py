"""Running the real app on a real loopback port, and talking to it like clients do."""

import asyncio
import hashlib
import hmac
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from sqlalchemy import event
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from live.app import create_app
from live.auth import tokens
from live.context import Context
from live.platform.settings import Settings
from live.platform.shutdown import GracefulServer
from live.platform.ws_protocol import websocket_options

#: One scalable unit of waiting; every timeout in the suite is a multiple of it.
UNIT_S = 1.0

SECRET = "test-secret-0123456789abcdef0123456789"
PAYMENT_SECRET = "test-payment-secret-0123456789abcdef"


def settings_for(
    data_dir: Path, *, database_url: str, redis_url: str, **overrides: Any
) -> Settings:
    """Settings of one test app: real engines, short ticks and segments."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "redis_url": redis_url,
        "archive_url": (data_dir / "archive").as_uri(),
        "s3_endpoint_url": None,
        "secret": SECRET,
        "payment_secret": PAYMENT_SECRET,
        "tick_ms": 50,
        "archive_segment_ms": 200,
        "comment_rate_per_s": 50.0,
        "comment_burst": 50,
        "shutdown_drain_s": 2.0,
        # Tests drive hosts and buyers far faster than people do; the write limit has its own
        # tests (tests/live/test_write_limits.py), which set it low.
        "write_rate_per_s": 10_000.0,
        "write_burst": 10_000,
        # Many apps share the test process: freezing its objects would keep every finished
        # test's cycles alive. The policy has its own tests (tests/live/test_gc_policy.py).
        "gc_freeze_s": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class LiveServer:
    """One app instance on a loopback port."""

    settings: Settings
    server: uvicorn.Server
    task: "asyncio.Task[None]"
    port: int
    app: Starlette
    brand: str = field(default_factory=lambda: f"brand-{uuid.uuid4().hex[:8]}")

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def token(self, role: str, sub: str, *, brand: str | None = None, **claims: Any) -> str:
        """A valid token of this server's secret."""
        return tokens.mint(
            self.settings.secret, sub=sub, role=role, brand=brand or self.brand, **claims
        )

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        """An HTTP client, authenticated with ``token`` when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=10 * UNIT_S)

    def ws_url(self, session_id: str, token: str, **params: Any) -> str:
        """The room socket URL with query parameters."""
        query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}?{query}"

    def replay_url(self, session_id: str, token: str, **params: Any) -> str:
        """The replay socket URL with query parameters."""
        query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
        return f"ws://127.0.0.1:{self.port}/ws/replay/{session_id}?{query}"

    @property
    def context(self) -> Context:
        """The running app's engines and hub (for tests that inspect the server's state)."""
        ctx: Context = self.app.state.ctx
        return ctx

    async def stop(self) -> None:
        """Shut the app down as SIGTERM would; a shutdown that hangs fails naming its tasks."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15 * UNIT_S)
        except TimeoutError:
            stuck = io.StringIO()
            for task in asyncio.all_tasks():
                task.print_stack(limit=6, file=stuck)
            self.task.cancel()
            raise AssertionError(
                f"the app did not shut down in time:\n{stuck.getvalue()}"
            ) from None


async def start_server(settings: Settings, *, port: int = 0) -> LiveServer:
    """Start the app under uvicorn (same options as ``live serve``) on ``port`` (0: a free one)."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        **websocket_options(settings),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = GracefulServer(config, drain_s=settings.shutdown_drain_s)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20 * UNIT_S):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server exited during start-up")
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(settings=settings, server=server, task=task, port=port, app=app)


@asynccontextmanager
async def cluster(
    base_dir: Path, count: int, *, database_url: str, redis_url: str, **overrides: Any
) -> AsyncIterator[list[LiveServer]]:
    """``count`` app instances over the same engines and archive, serving one brand."""
    archive = overrides.pop("archive_url", (base_dir / "archive").as_uri())
    nodes: list[LiveServer] = []
    try:
        for n in range(count):
            settings = settings_for(
                base_dir / f"node-{n}",
                database_url=database_url,
                redis_url=redis_url,
                archive_url=archive,
                **overrides,
            )
            nodes.append(await start_server(settings))
            nodes[-1].brand = nodes[0].brand
        yield nodes
    finally:
        await asyncio.gather(*(node.stop() for node in nodes))


@contextmanager
def statements_with(
    server: LiveServer, fragment: str = "", *, except_tasks: Collection[str] = ()
) -> Iterator[list[str]]:
    """The SQL statements the node sends to its record while the block runs: those that
    contain ``fragment`` (such as ``"FROM products"``), leaving out those run by the asyncio
    tasks named in ``except_tasks`` (the node's background loops)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        task = asyncio.current_task()
        if task is not None and task.get_name() in except_tasks:
            return
        if fragment in statement:
            seen.append(statement)

    engine = server.context.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def sign(body: bytes) -> str:
    """The payment provider's signature of ``body``."""
    return hmac.new(PAYMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()


class Room:
    """A viewer's socket that collects every frame (batches are flattened)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def join(cls, url: str) -> "Room":
        """Connect to the room socket."""
        return cls(await connect(url, max_size=None, compression=None))

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message."""
        await self.socket.send(orjson.dumps(message).decode())

    async def next_frame(self) -> dict[str, Any]:
        """The next frame (from what is buffered, or the socket)."""
        raw = await self.socket.recv()
        data = orjson.loads(raw)
        items: list[dict[str, Any]] = data if isinstance(data, list) else [data]
        self.frames.extend(items)
        return items[0]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout_s: float = 5 * UNIT_S
    ) -> dict[str, Any]:
        """The first frame (already seen or arriving) that satisfies ``predicate``."""
        seen = 0
        async with asyncio.timeout(timeout_s):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        self.frames.remove(frame)
                        return frame
                seen = len(self.frames)
                await self.next_frame()

    async def wait_type(self, kind: str, *, timeout_s: float = 5 * UNIT_S) -> dict[str, Any]:
        """The first frame of type ``kind``."""
        return await self.wait_for(lambda f: f.get("type") == kind, timeout_s=timeout_s)

    async def close(self) -> None:
        """Close the socket."""
        await self.socket.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10 * UNIT_S
) -> None:
    """Wait until ``check`` answers True (polling), or fail after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - polling an HTTP answer, no event to wait on
            await asyncio.sleep(0.05)


@dataclass(frozen=True)
class OpenSession:
    """A live session with one product, as the host set it up."""

    session_id: str
    product_id: str
    host_token: str


async def open_session(
    server: LiveServer, *, stock: int = 10, limit: int | None = 2, price_cents: int = 19_900
) -> OpenSession:
    """Create a session with one product and start it, as a host of the server's brand."""
    host_token = server.token("host", "host-1")
    async with server.client(host_token) as host:
        created = await host.post("/api/sessions", json={"title": "Autumn drop"})
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        product = await host.post(
            f"/api/sessions/{session_id}/products",
            json={
                "sku": "SKU-1",
                "title": "Wool coat",
                "price_cents": price_cents,
                "stock": stock,
                "limit_per_viewer": limit,
            },
        )
        assert product.status_code == 201, product.text
        started = await host.post(f"/api/sessions/{session_id}/start")
        assert started.status_code == 200, started.text
    return OpenSession(session_id, product.json()["product_id"], host_token)
