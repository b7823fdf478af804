"""The ``live`` command: serve, demo, token, db upgrade, archive verify, inventory check, org
import."""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from common.errors import ClientError
from inventory.errors import InventoryUnavailable
from live.auth import tokens
from live.auth.tokens import Role
from live.cli import startup, workers
from live.commerce import stock_invariant
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.guides import organisation
from live.guides.organisation import CSV_COLUMNS
from live.platform import data_lock, languages, logs
from live.platform.clock import now_ms
from live.platform.engines import EngineError, open_engines
from live.platform.settings import Settings, SettingsError, load_settings
from live.platform.shutdown import GracefulServer
from live.platform.ws_protocol import websocket_options
from replay import reader
from replay.errors import ArchiveError
from replay.store import open_store


def _fail(message: str) -> int:
    print(f"live: error: {message}", file=sys.stderr)
    return 2


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


async def _preflight(settings: Settings) -> None:
    # Open and close every engine once so a bad URL fails here, in one line, instead of in
    # the middle of the server's start-up log.
    engines = await open_engines(settings)
    await engines.aclose()


def _workers(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be at least 1")
    return count


def _serve(settings: Settings, host: str, port: int, processes: int) -> int:
    from live.app import create_app

    if processes > 1 and settings.redis_url is None:
        # The embedded Valkey belongs to the process that starts it (it stops with it and dies
        # with it); N workers would each start their own, unshared, and sell the stock N times.
        return _fail(
            f"--workers {processes} needs shared engines: set LIVE_REDIS_URL (and, for write "
            "throughput, LIVE_DATABASE_URL=postgresql+asyncpg://...)"
        )
    lock, refusal = startup.claim(settings, host, port)
    if refusal is not None:
        return _fail(refusal)
    try:
        asyncio.run(_preflight(settings))
    except EngineError as exc:
        return _fail(str(exc))
    if settings.redis_url is None:
        print(
            f"live: embedded mode, data in {settings.data_dir}\n"
            f"live: mint a token with: {startup.token_hint(settings)}",
            file=sys.stderr,
        )
    # Several workers each build their own app (and node id) from the factory, in their process.
    app = create_app(settings) if processes == 1 else workers.NODE_APP
    # Uvicorn shuts down gracefully on SIGINT/SIGTERM, then restores the previous handlers and
    # raises the signal again, which would end a clean shutdown with status 143 (or a
    # KeyboardInterrupt traceback). A completed graceful shutdown is a success: exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        backlog=settings.listen_backlog,
        **websocket_options(settings),
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        log_config=logs.config(settings.log_format, access_log=settings.access_log),
        # Replaced by live.access lines, which carry the request id and are scrubbed.
        access_log=False,
        factory=processes > 1,
    )
    if processes > 1:
        return workers.serve(
            config,
            workers=processes,
            drain_s=settings.shutdown_drain_s,
            metrics_dir=settings.metrics_dir,
        )
    GracefulServer(config, drain_s=settings.shutdown_drain_s).run()
    if lock is not None:
        data_lock.release(lock)
    return 0


async def _upgrade(settings: Settings) -> str | None:
    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def _verify_archive(settings: Settings, session_id: str) -> list[str]:
    store = open_store(settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url)
    try:
        return await reader.verify(store, session_id)
    finally:
        await store.aclose()


def _archive_verify(settings: Settings, session_id: str) -> int:
    """Exit status 0: the archive is complete and intact; 1: problems (printed); 2: unreadable."""
    try:
        problems = asyncio.run(_verify_archive(settings, session_id))
    except (ArchiveError, ValueError) as exc:
        return _fail(f"cannot verify the archive of session {session_id}: {exc}")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"live: archive of session {session_id} is contiguous and its checksums match")
    return 0


async def _inventory_lines(settings: Settings, session_id: str) -> list[stock_invariant.Line]:
    engines = await open_engines(settings)
    try:
        return await stock_invariant.check(
            session_factory(engines.engine), engines.redis, session_id
        )
    finally:
        await engines.aclose()


def _inventory_check(settings: Settings, session_id: str) -> int:
    """Exit status 0: stock + held + sold == allocation for every product; 1: report; 2: error."""
    if settings.redis_url is None:
        return _fail("inventory check needs LIVE_REDIS_URL (the embedded Valkey is private)")
    try:
        lines = asyncio.run(_inventory_lines(settings, session_id))
    except (EngineError, ClientError, InventoryUnavailable) as exc:
        return _fail(f"cannot check the inventory of session {session_id}: {exc}")
    for line in lines:
        print(line.describe())
    if not all(line.consistent for line in lines):
        return 1
    print(f"live: inventory of session {session_id} is consistent ({len(lines)} products)")
    return 0


async def _apply_org(settings: Settings, brand: str, text: str) -> tuple[int, int]:
    found_stores, found_guides, labels = organisation.parse_csv(text)
    engine = create_engine(settings.database_url)
    try:
        return await organisation.apply(
            session_factory(engine),
            brand,
            found_stores,
            found_guides,
            now_ms=now_ms(),
            labels=labels,
        )
    finally:
        await engine.dispose()


def _org_import(settings: Settings, brand: str, path: str) -> int:
    """Exit status 0: every row written; 1: none written, each problem printed; 2: error."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {path}: {exc}")
    try:
        written_stores, written_guides = asyncio.run(_apply_org(settings, brand, text))
    except organisation.Problems as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"live: nothing imported ({len(exc.problems)} problems)", file=sys.stderr)
        return 1
    except ClientError as exc:
        return _fail(f"cannot import into LIVE_DATABASE_URL: {exc.message}")
    print(f"live: imported {written_stores} stores and {written_guides} guides for {brand}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="live", description="Live-commerce session server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the server (embedded engines by default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_workers,
        help="processes serving the port, each a full node (default: LIVE_WORKERS, else 1)",
    )
    demo = commands.add_parser(
        "demo", help="serve a seeded demo brand and session, print the pages' URLs"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument(
        "--viewers", type=int, default=0, help="simulated viewers who comment, like and buy"
    )
    demo.add_argument("--seed", type=int, help="seed of the simulated viewers' choices")
    demo.add_argument(
        "--lang",
        choices=languages.SUPPORTED,
        help="the demo brand's page language (default: each browser's own)",
    )
    token = commands.add_parser("token", help="mint a development token (HS256, LIVE_SECRET)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--brand", required=True)
    token.add_argument("--sub", required=True)
    token.add_argument("--name")
    token.add_argument("--store")
    token.add_argument("--ttl-s", type=int, default=24 * 3600)
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    archive = commands.add_parser("archive", help="session archives (LIVE_ARCHIVE_URL)")
    archive_commands = archive.add_subparsers(dest="archive_command", required=True)
    verify = archive_commands.add_parser(
        "verify", help="check a session's archive: manifest, contiguity, checksums"
    )
    verify.add_argument("session_id")
    inventory = commands.add_parser("inventory", help="stock in Redis against the record")
    inventory.add_argument("action", choices=["check"])
    inventory.add_argument("session_id")
    org = commands.add_parser("org", help="a brand's stores and guides")
    org_commands = org.add_subparsers(dest="org_command", required=True)
    org_import = org_commands.add_parser(
        "import", help=f"create or update stores and guides from CSV ({','.join(CSV_COLUMNS)})"
    )
    org_import.add_argument("file")
    org_import.add_argument("--brand", required=True)
    return parser


def _run_server(args: argparse.Namespace, settings: Settings) -> int:
    # Ctrl-C is Python's KeyboardInterrupt again (`live.cli` quits at once while importing).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers or settings.workers)
    from live.cli import demo

    return demo.run(
        settings,
        host=args.host,
        port=args.port,
        viewers=max(0, args.viewers),
        seed=args.seed,
        language=args.lang,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``live`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc))
    if args.command in ("serve", "demo"):
        try:
            return _run_server(args, settings)
        except KeyboardInterrupt:
            # Ctrl-C before the server took over its signals (engines starting, migrations):
            # a stop asked for, not a failure. What had started stops with the process.
            print("live: stopped", file=sys.stderr)
            return 0
    if args.command == "token":
        print(
            tokens.mint(
                settings.secret,
                sub=args.sub,
                role=args.role,
                brand=args.brand,
                ttl_s=args.ttl_s,
                name=args.name,
                store=args.store,
            )
        )
        return 0
    if args.command == "archive":
        return _archive_verify(settings, args.session_id)
    if args.command == "inventory":
        return _inventory_check(settings, args.session_id)
    if args.command == "org":
        return _org_import(settings, args.brand, args.file)
    try:
        revision = asyncio.run(_upgrade(settings))
    except Exception as exc:
        return _fail(f"LIVE_DATABASE_URL: upgrade failed: {str(exc).splitlines()[0]}")
    print(f"live: database at revision {revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
