"""Opening the engines at start-up: Redis (external or a private Valkey), SQL, the archive.

Every failure becomes one `EngineError` line naming the setting at fault; nothing is left
running when start-up fails.
"""

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db import migrate
from live.db.engine import create_engine, ping
from live.db.side_loop import SideLoop
from live.platform.embedded_valkey import EmbeddedValkey, EmbeddedValkeyError
from live.platform.redis_connection import TasklessWriteConnection
from live.platform.settings import Settings, redact_url
from replay.errors import ArchiveError
from replay.local_store import LocalArchiveStore
from replay.store import ArchiveStore, open_store

CONNECT_TIMEOUT_S = 5
# Above the longest blocking XREAD (1 s), so a quiet stream is never taken for a dead socket.
SOCKET_TIMEOUT_S = 10
#: How long a Redis command waits for a free pooled connection before failing `unavailable`.
POOL_WAIT_S = 5


class EngineError(RuntimeError):
    """An engine could not be opened; the message is one line naming the setting."""


@dataclass(slots=True)
class Engines:
    """Open clients of the three engines, and the private Valkey when embedded."""

    redis: Redis
    engine: AsyncEngine
    store: ArchiveStore
    valkey: EmbeddedValkey | None
    #: The record's engine on a loop of its own, for the order writer (PostgreSQL only).
    orders_side: SideLoop | None = None

    async def aclose(self) -> None:
        """Close every client, then stop the private Valkey."""
        if self.orders_side is not None:
            with contextlib.suppress(Exception):
                await self.orders_side.aclose()
        with contextlib.suppress(Exception):
            await self.store.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        with contextlib.suppress(Exception):
            await self.engine.dispose()
        if self.valkey is not None:
            await asyncio.to_thread(self.valkey.stop)


def _cluster_client(url: str, *, max_connections: int) -> Redis:
    # redis+cluster://host:port -> redis://host:port: redis-py takes the seed node's plain URL.
    plain = url.replace("+cluster://", "://", 1)
    client = RedisCluster.from_url(
        plain,
        max_connections=max_connections,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
    )
    # redis-py gives RedisCluster the same command methods as Redis (scripts, pipelines and
    # MULTI included, for keys of one slot) but no common base class; the app is written
    # against that shared command surface, so the cluster client stands in for `Redis`.
    return cast("Redis", client)


async def _open_redis(url: str, *, max_connections: int, cluster: bool = False) -> Redis:
    if cluster:
        # Per node, and without waiting: redis-py's cluster client has no blocking pool, so a
        # command finding every connection of its node busy fails `unavailable` at once.
        try:
            redis = _cluster_client(url, max_connections=max_connections)
        except ValueError as exc:
            raise EngineError(f"LIVE_REDIS_URL={redact_url(url)}: {exc}") from exc
        return await _pinged(redis, url)
    # A blocking pool: when a flash crowd has every connection busy, a command waits for one
    # (up to POOL_WAIT_S) instead of failing at once with "Too many connections", which the
    # default pool does past 100 connections.
    try:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=POOL_WAIT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            connection_class=TasklessWriteConnection,
        )
    except ValueError as exc:  # a malformed query option (?socket_timeout=abc)
        raise EngineError(f"LIVE_REDIS_URL={redact_url(url)}: {exc}") from exc
    return await _pinged(Redis.from_pool(pool), url)


async def _pinged(redis: Redis, url: str) -> Redis:
    try:
        await redis.ping()
    # RedisClusterException: a cluster URL naming a server that is not in cluster mode.
    except (RedisError, RedisClusterException, OSError) as exc:
        await redis.aclose()
        raise EngineError(f"LIVE_REDIS_URL={redact_url(url)}: cannot connect ({exc})") from exc
    return redis


def _make_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EngineError(f"LIVE_DATABASE_URL={redact_url(url)}: {exc}") from exc


async def _open_database(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        _make_sqlite_dir(url)
    try:
        engine = create_engine(url, pool_size=settings.db_pool_size)
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        raise EngineError(f"LIVE_DATABASE_URL={redact_url(url)}: {exc}") from exc
    try:
        await ping(engine)
        if url.startswith("sqlite"):
            # Embedded mode migrates itself; a shared database is migrated by an operator.
            await migrate.upgrade(engine)
            return engine
        current, head = await migrate.current_revision(engine), migrate.head_revision()
    # asyncpg rejects an unknown URL query option (?foo=bar) with a TypeError at connect time.
    except (SQLAlchemyError, OSError, ValueError, TypeError) as exc:
        await engine.dispose()
        reason = str(exc).splitlines()[0]
        raise EngineError(f"LIVE_DATABASE_URL={redact_url(url)}: {reason}") from exc
    if current != head:
        await engine.dispose()
        raise EngineError(
            f"LIVE_DATABASE_URL={redact_url(url)}: schema is at {current}, "
            f"the code needs {head}; run `live db upgrade`"
        )
    return engine


def _check_local_root(root: Path) -> None:
    # Listing a missing directory answers "empty", so an unusable local archive would only
    # show up at the first segment write, long after start-up; check it can be written now.
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK | os.X_OK):
        raise PermissionError(f"{root} is not writable")


async def _open_store(settings: Settings) -> ArchiveStore:
    try:
        store = open_store(settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url)
    except ValueError as exc:
        raise EngineError(f"LIVE_ARCHIVE_URL={settings.archive_url}: {exc}") from exc
    try:
        if isinstance(store, LocalArchiveStore):
            await asyncio.to_thread(_check_local_root, store.root)
        await store.list("sessions/probe/")
    except (ArchiveError, OSError) as exc:
        await store.aclose()
        raise EngineError(f"LIVE_ARCHIVE_URL={settings.archive_url}: {exc}") from exc
    return store


async def _open_orders_side(engine: AsyncEngine) -> SideLoop:
    # One connection: the order writer writes one batch at a time. Opened now, so that a
    # sale's first batch does not wait for a connection to be made.
    side = SideLoop(engine.url, name="orders-side")
    try:
        await side.run(ping)
    except (SQLAlchemyError, OSError) as exc:
        await side.aclose()
        raise EngineError(f"LIVE_DATABASE_URL={redact_url(str(engine.url))}: {exc}") from exc
    except BaseException:
        await side.aclose()
        raise
    return side


async def open_engines(settings: Settings) -> Engines:
    """Open (and, when embedded, start) every engine, or raise `EngineError`."""
    valkey: EmbeddedValkey | None = None
    redis_url = settings.redis_url
    if redis_url is None:
        valkey = EmbeddedValkey(settings.data_dir / "valkey", persistent=True)
        try:
            # Started from the event loop's own thread on purpose: PR_SET_PDEATHSIG fires when
            # the *thread* that forked the child exits, and executor threads may come and go.
            valkey.start()
        except (EmbeddedValkeyError, OSError) as exc:
            raise EngineError(f"embedded Valkey (LIVE_REDIS_URL unset): {exc}") from exc
        except BaseException:
            valkey.kill()  # interrupted while it started: it must not outlive this start-up
            raise
        redis_url = valkey.url
    opened: list[object] = []
    try:
        redis = await _open_redis(
            redis_url,
            max_connections=settings.redis_max_connections,
            cluster=settings.redis_cluster,
        )
        opened.append(redis)
        engine = await _open_database(settings)
        opened.append(engine)
        side = await _open_orders_side(engine) if engine.dialect.name == "postgresql" else None
        if side is not None:
            opened.append(side)
        store = await _open_store(settings)
    except EngineError:
        for resource in opened:
            if isinstance(resource, Redis | RedisCluster):
                await resource.aclose()
            elif isinstance(resource, AsyncEngine):
                await resource.dispose()
            elif isinstance(resource, SideLoop):
                await resource.aclose()
        if valkey is not None:
            await asyncio.to_thread(valkey.stop)
        raise
    except BaseException:
        # Interrupted (Ctrl-C during start-up): nothing may await any more, but the private
        # Valkey must not outlive the start-up that launched it.
        if valkey is not None:
            valkey.stop()
        raise
    return Engines(redis=redis, engine=engine, store=store, valkey=valkey, orders_side=side)
