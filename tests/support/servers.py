"""Running the real app on a real loopback port: its settings, one node, a cluster of nodes."""

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvicorn
from sqlalchemy import event
from starlette.applications import Starlette

from live.app import create_app
from live.auth import tokens
from live.context import Context
from live.platform.settings import Settings
from live.platform.shutdown import GracefulServer
from live.platform.ws_protocol import websocket_options
from tests.support.polling import eventually
from tests.support.units import UNIT_S

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
        # tests (tests/live/api/test_write_limits.py), which set it low.
        "write_rate_per_s": 10_000.0,
        "write_burst": 10_000,
        # Many apps share the test process: freezing its objects would keep every finished
        # test's cycles alive. The policy has its own tests (tests/live/platform/test_gc_policy.py).
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

    async def started() -> bool:
        # uvicorn sets a flag and signals nothing; a start-up that fails ends the task.
        if task.done():
            task.result()
            raise RuntimeError("server exited during start-up")
        return server.started

    await eventually(started, timeout_s=20 * UNIT_S, what="the app to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return LiveServer(settings=settings, server=server, task=task, port=port, app=app)


class ServerWith(Protocol):
    """The ``server_with`` fixture: ``await server_with(**settings)`` starts one more app on the
    test's engines with ``settings`` overriding `settings_for`'s (``data_dir``, the engines'
    URLs included); every app it started is stopped at the end of the test."""

    async def __call__(self, **settings: Any) -> LiveServer:
        """Start an app with these settings."""
        ...


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
