"""Settings: the only reader of ``os.environ``.

`load_settings` builds one frozen `Settings` at start-up and fails fast with a `SettingsError`
naming the variable at fault. Everything else receives the settings object.
"""

import contextlib
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

#: Schemes of ``LIVE_REDIS_URL`` naming a Redis Cluster: the host is any node of it (a seed),
#: the client discovers the others and routes each command to the node owning its slot.
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


#: ``LIVE_PAYMENT_PROVIDER`` values: no provider (the brand's own backend sends signed
#: notifications), the development provider (`live demo`), WeChat Pay API v3.
PAYMENT_PROVIDERS = frozenset({"none", "dev", "wechat"})
#: WeChat Pay's API gateway; ``LIVE_WECHATPAY_GATEWAY`` points elsewhere (a proxy, a sandbox).
WECHATPAY_GATEWAY = "https://api.mch.weixin.qq.com"


@dataclass(frozen=True, slots=True)
class WeChatPaySettings:
    """A merchant's WeChat Pay API v3 credentials (``LIVE_WECHATPAY_*``)."""

    mchid: str
    appid: str
    #: Serial number of the merchant's API certificate, which signs our requests.
    cert_serial_no: str
    #: The merchant's API private key (PEM), read from ``LIVE_WECHATPAY_PRIVATE_KEY_FILE``.
    private_key: str = field(repr=False)
    #: The APIv3 key (32 characters): decrypts callbacks' resources and platform certificates.
    apiv3_key: str = field(repr=False)
    notify_url: str
    gateway: str = WECHATPAY_GATEWAY
    #: Where downloaded platform certificates are kept between starts (None: memory only).
    cert_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Frozen configuration of one app process. ``None`` engine URLs mean "embedded"."""

    data_dir: Path
    database_url: str
    redis_url: str | None
    archive_url: str
    s3_endpoint_url: str | None
    secret: str
    payment_secret: str
    public_ws_url: str | None = None
    tick_ms: int = 200
    hold_ttl_s: int = 900
    idempotency_ttl_s: int = 86_400
    attribution_window_s: int = 7 * 86_400
    share_code_ttl_s: int = 30 * 86_400
    max_frame_bytes: int = 65_536
    comment_max_chars: int = 300
    comment_rate_per_s: float = 1.0
    comment_burst: int = 3
    #: Token bucket of a user's ``buy`` and waitlist messages on a room socket, per node.
    order_rate_per_s: float = 2.0
    order_burst: int = 10
    #: How long a waitlist offer holds its unit for the viewer it was made to.
    offer_ttl_s: int = 120
    #: How long a node refuses first attempts at a product Redis refused as sold out, without
    #: asking Redis again (`live.commerce.sold_out_gate`); 0 turns the gate off.
    sold_out_hold_s: float = 1.0
    #: Waitlists (products) a viewer may wait in at once, per session.
    waitlist_max_per_viewer: int = 5
    comments_per_tick: int = 20
    backlog_soft_frames: int = 64
    backlog_hard_frames: int = 512
    archive_segment_events: int = 500
    archive_segment_ms: int = 5_000
    archive_retain_events: int = 1_000
    archive_retry_max_s: float = 30.0
    redis_max_connections: int = 256
    #: Added to a clip's session times to give its times in the recorded video (may be < 0).
    clip_offset_ms: int = 0
    #: ``POST /api/dev/signin`` mints tokens for anyone: only for `live demo` and development.
    dev_signin: bool = False
    #: Browser pages allowed to open room sockets (exact origins); empty allows every origin.
    allowed_origins: tuple[str, ...] = ()
    max_sockets_per_ip: int = 1_000
    max_sockets_per_user: int = 10
    #: Connections this node keeps to PostgreSQL at most (SQLite always uses one).
    db_pool_size: int = 30
    #: Token bucket of every write request (POST/PUT/PATCH/DELETE), per user and per node.
    write_rate_per_s: float = 10.0
    write_burst: int = 30
    #: ``json`` (one object per line, for log shippers) or ``text`` (for people at a terminal).
    log_format: str = "json"
    #: One ``live.access`` line per request (about 40 us each on this machine; see benchmarks).
    access_log: bool = True
    #: How long a stopping node lets viewers and requests drain before it closes the engines.
    shutdown_drain_s: float = 5.0
    #: Freeze objects older than this out of the cyclic collector's passes
    #: (`live.platform.gc_policy`); 0 leaves the collector as Python sets it.
    gc_freeze_s: float = 1.0
    #: Check this often whether frozen objects grew enough to sweep them for cycles (0: never).
    gc_sweep_s: float = 60.0
    #: Sweep when the frozen objects grew by this fraction since the last sweep.
    gc_sweep_growth: float = 0.5
    #: Room sockets that join at once (token, session, snapshot); more wait their turn.
    join_concurrency: int = 32
    #: Joins that may wait for a turn; past that a join is refused (busy, with a retry hint).
    join_queue: int = 2_000
    #: The least retry hint given to a refused join.
    join_retry_ms: int = 1_000
    #: How long a room socket's upgrade waits for room in a full join queue before it is
    #: answered anyway (``busy`` if the queue is still full); 0: refused at once. About the
    #: time a node takes 10,000 joins: a refusal after a shorter hold was told to come back
    #: 6-9 s later, behind those who came after it.
    join_hold_s: float = 10.0
    #: Connections the kernel queues for the node to accept (``listen``'s backlog; Linux caps
    #: it at ``net.core.somaxconn``). A reconnect storm sends thousands of connects within a
    #: second; past the queue the kernel drops them and the clients' own retransmissions bring
    #: them back only 1, 3, 7, 15, 31 s later.
    listen_backlog: int = 4_096
    #: Processes `live serve` runs on its port, each a full node (one per core; see operations).
    workers: int = 1
    #: Who takes viewers' payments: ``none``, ``dev`` or ``wechat`` (`PAYMENT_PROVIDERS`).
    payment_provider: str = "none"
    #: The WeChat Pay merchant, set exactly when ``payment_provider`` is ``wechat``.
    wechatpay: WeChatPaySettings | None = None
    #: Where every worker writes its metrics (``PROMETHEUS_MULTIPROC_DIR``, which `live serve
    #: --workers N` sets for its workers); None: this process answers ``/metrics`` alone.
    metrics_dir: Path | None = None
    #: How often a node looks for webhook events and due deliveries when it has none in flight.
    webhook_poll_ms: int = 500
    #: One delivery attempt's time limit (connect, send, answer).
    webhook_timeout_s: float = 10.0
    #: Retry delays: half to all of ``min(max, base * 2**(attempt-1))`` (`live.webhooks.schedule`).
    webhook_retry_base_s: float = 5.0
    webhook_retry_max_s: float = 7_200.0
    #: A delivery still failing this long after its first attempt is dead (a dead letter).
    webhook_give_up_s: float = 86_400.0
    #: Deliveries of one brand in flight at once, over every node.
    webhook_brand_concurrency: int = 4
    #: Deliveries one node has in flight at once.
    webhook_node_concurrency: int = 64
    #: How long before a scheduled start reservations are reminded, until a brand sets its own.
    reminder_lead_s: int = 600
    #: How often a node looks for reminders that came due.
    reminder_poll_ms: int = 1_000
    node_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def embedded_redis(self) -> bool:
        """True when this process must start its own private Valkey server."""
        return self.redis_url is None

    @property
    def redis_cluster(self) -> bool:
        """True when ``redis_url`` names a Redis Cluster (``redis+cluster://``)."""
        return self.redis_url is not None and urlparse(self.redis_url).scheme in CLUSTER_SCHEMES


#: Integer settings read from ``LIVE_<NAME>``, with the least value each accepts.
_INTEGERS = {
    "tick_ms": 10,
    "hold_ttl_s": 1,
    "order_burst": 1,
    "offer_ttl_s": 1,
    "waitlist_max_per_viewer": 1,
    "attribution_window_s": 1,
    "comments_per_tick": 1,
    "archive_segment_events": 1,
    "archive_segment_ms": 50,
    "archive_retain_events": 1,
    "redis_max_connections": 8,
    "clip_offset_ms": -86_400_000,
    "max_sockets_per_ip": 1,
    "max_sockets_per_user": 1,
    "db_pool_size": 1,
    "write_burst": 1,
    "workers": 1,
    "join_concurrency": 1,
    "join_queue": 0,
    "join_retry_ms": 100,
    "listen_backlog": 1,
    "webhook_poll_ms": 10,
    "webhook_brand_concurrency": 1,
    "webhook_node_concurrency": 1,
    "reminder_lead_s": 0,
    "reminder_poll_ms": 10,
}
#: Number settings read from ``LIVE_<NAME>``, and whether 0 (meaning "off") is accepted.
_NUMBERS = {
    "write_rate_per_s": False,
    "order_rate_per_s": False,
    "shutdown_drain_s": False,
    "sold_out_hold_s": True,
    "join_hold_s": True,
    "gc_freeze_s": True,
    "gc_sweep_s": True,
    "gc_sweep_growth": True,
    "webhook_timeout_s": False,
    "webhook_retry_base_s": False,
    "webhook_retry_max_s": False,
    "webhook_give_up_s": False,
}


def _variable(name: str) -> str:
    return f"LIVE_{name.upper()}"


def _default(name: str) -> Any:
    """The default of a `Settings` field: written once, on the dataclass."""
    default = {f.name: f.default for f in fields(Settings)}[name]
    assert default is not MISSING, name
    return default


def _int(env: Mapping[str, str], name: str, *, minimum: int) -> int:
    variable, raw = _variable(name), env.get(_variable(name))
    if raw is None or raw == "":
        value: int = _default(name)
        return value
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{variable}={raw!r} must be at least {minimum}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in {"", "0", "false", "no", "off"}:
        return False
    if raw in {"1", "true", "yes", "on"}:
        return True
    raise SettingsError(f"{name}={raw!r} must be 1 or 0")


def _float(env: Mapping[str, str], name: str, *, zero_ok: bool) -> float:
    """A finite number above 0 (or 0 too, for settings where 0 means "off")."""
    variable, raw = _variable(name), env.get(_variable(name))
    if raw is None or raw == "":
        default: float = _default(name)
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a number") from None
    if zero_ok and value == 0:
        return value
    if not value > 0 or value == float("inf"):
        wanted = "0 or a positive number" if zero_ok else "a positive number"
        raise SettingsError(f"{variable}={raw!r} must be {wanted}")
    return value


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(part.strip().rstrip("/").lower() for part in raw.split(",") if part.strip())
    for origin in origins:
        parsed = urlparse(origin)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc or parsed.path:
            raise SettingsError(
                f"LIVE_ALLOWED_ORIGINS: {origin!r} is not an origin such as https://shop.example"
            )
    return origins


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(_variable(name)) or "").strip().lower()
    if not raw:
        default: bool = _default(name)
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{_variable(name)}={raw!r} must be true or false")


def _log_format(raw: str | None, *, shared: bool) -> str:
    if not raw:
        # Shared engines mean production: log lines go to a collector, not a person.
        return "json" if shared else "text"
    if raw not in {"json", "text"}:
        raise SettingsError(f"LIVE_LOG_FORMAT={raw!r} must be json or text")
    return raw


def redact_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and logs)."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    userinfo, _, hostinfo = parsed.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parsed._replace(netloc=f"{user}:***@{hostinfo}").geturl()


def _check_database_url(url: str) -> str:
    shown = redact_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise SettingsError(f"LIVE_DATABASE_URL={shown}: not a database URL ({exc})") from None
    if parsed.drivername not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise SettingsError(
            f"LIVE_DATABASE_URL={shown}: the scheme must be sqlite+aiosqlite:// or "
            "postgresql+asyncpg://"
        )
    # An in-memory SQLite database is private to one connection: the server would lose its
    # records between connections, and migrations would never be seen by requests.
    if parsed.drivername.startswith("sqlite") and parsed.database in {None, "", ":memory:"}:
        raise SettingsError(f"LIVE_DATABASE_URL={shown}: SQLite needs a file path")
    return url


def _check_redis_url(url: str) -> str:
    parsed = urlparse(url)
    try:
        parsed.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise SettingsError(f"LIVE_REDIS_URL={redact_url(url)}: {exc}") from None
    if parsed.scheme not in {"redis", "rediss", "unix", *CLUSTER_SCHEMES}:
        raise SettingsError(
            f"LIVE_REDIS_URL={redact_url(url)}: the scheme must be redis://, rediss://, "
            "unix://, redis+cluster:// or rediss+cluster://"
        )
    if parsed.scheme in CLUSTER_SCHEMES and not parsed.hostname:
        raise SettingsError(f"LIVE_REDIS_URL={redact_url(url)}: a cluster URL needs host:port")
    return url


def _check_archive_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "file" and parsed.netloc in {"", "localhost"} and parsed.path[:1] == "/":
        return url
    if parsed.scheme == "s3" and parsed.netloc:
        return url
    raise SettingsError(
        f"LIVE_ARCHIVE_URL={redact_url(url)}: expected file:///absolute/dir or s3://bucket/prefix"
    )


def _read_secrets(path: Path) -> dict[str, str]:
    try:
        stored = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SettingsError(f"LIVE_DATA_DIR: cannot read {path}: {exc}") from None
    if not isinstance(stored, dict) or not all(
        isinstance(stored.get(key), str) for key in ("secret", "payment_secret")
    ):
        raise SettingsError(f"LIVE_DATA_DIR: {path} must hold secret and payment_secret strings")
    return {"secret": stored["secret"], "payment_secret": stored["payment_secret"]}


def _embedded_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets generated once for the embedded mode and kept in the data directory."""
    path = data_dir / "secrets.json"
    if path.exists():
        return _read_secrets(path)
    generated = {"secret": secrets.token_urlsafe(32), "payment_secret": secrets.token_urlsafe(32)}
    draft = data_dir / f".secrets-{os.getpid()}.tmp"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Owner-only from the first byte (a chmod afterwards leaves a readable window), and
        # published with link(), which refuses to replace: of two processes starting on a new
        # data directory at once, both end up with the winner's complete file.
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(orjson.dumps(generated))
        os.link(draft, path)
    except FileExistsError:
        return _read_secrets(path)
    except OSError as exc:
        raise SettingsError(f"LIVE_DATA_DIR={data_dir}: cannot write {path.name}: {exc}") from None
    finally:
        with contextlib.suppress(OSError):  # never created when the directory is unusable
            draft.unlink()
    return generated


def _wechatpay(env: Mapping[str, str], provider: str) -> WeChatPaySettings | None:
    """The WeChat Pay merchant settings; all are read (and documented) whatever the provider,
    and required only by ``LIVE_PAYMENT_PROVIDER=wechat``."""
    names = ["mchid", "appid", "cert_serial_no", "private_key_file", "apiv3_key", "notify_url"]
    given = {name: (env.get(f"LIVE_WECHATPAY_{name.upper()}") or "").strip() for name in names}
    gateway = (env.get("LIVE_WECHATPAY_GATEWAY") or WECHATPAY_GATEWAY).rstrip("/")
    cert_dir = env.get("LIVE_WECHATPAY_CERT_DIR") or None
    if provider != "wechat":
        return None
    missing = [f"LIVE_WECHATPAY_{name.upper()}" for name in names if not given[name]]
    if missing:
        raise SettingsError(f"LIVE_PAYMENT_PROVIDER=wechat needs {', '.join(missing)}")
    if len(given["apiv3_key"].encode()) != 32:
        raise SettingsError("LIVE_WECHATPAY_APIV3_KEY must be the 32-character APIv3 key")
    for variable, url in (
        ("LIVE_WECHATPAY_NOTIFY_URL", given["notify_url"]),
        ("LIVE_WECHATPAY_GATEWAY", gateway),
    ):
        if urlparse(url).scheme not in {"http", "https"} or not urlparse(url).netloc:
            raise SettingsError(f"{variable}={url!r} must be an http(s):// URL")
    key_file = Path(given["private_key_file"])
    try:
        private_key = key_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"LIVE_WECHATPAY_PRIVATE_KEY_FILE: cannot read {key_file}: {exc}"
        ) from None
    if "PRIVATE KEY" not in private_key:
        raise SettingsError(f"LIVE_WECHATPAY_PRIVATE_KEY_FILE: {key_file} holds no PEM private key")
    return WeChatPaySettings(
        mchid=given["mchid"],
        appid=given["appid"],
        cert_serial_no=given["cert_serial_no"],
        private_key=private_key,
        apiv3_key=given["apiv3_key"],
        notify_url=given["notify_url"],
        gateway=gateway,
        cert_dir=Path(cert_dir).resolve() if cert_dir else None,
    )


def _payment_provider(env: Mapping[str, str]) -> str:
    provider = (env.get("LIVE_PAYMENT_PROVIDER") or "none").strip().lower()
    if provider not in PAYMENT_PROVIDERS:
        known = ", ".join(sorted(PAYMENT_PROVIDERS))
        raise SettingsError(f"LIVE_PAYMENT_PROVIDER={provider!r} must be one of {known}")
    return provider


def _metrics_dir(raw: str | None) -> Path | None:
    if raw is None:
        return None
    path = Path(raw)
    if not path.is_dir():
        raise SettingsError(f"PROMETHEUS_MULTIPROC_DIR={raw!r} is not a directory")
    return path


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (or ``env``); raise `SettingsError` when one is bad."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("LIVE_DATA_DIR") or ".live").resolve()
    database_url = _check_database_url(
        env.get("LIVE_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'live.db'}"
    )
    redis_url = env.get("LIVE_REDIS_URL") or None
    if redis_url is not None:
        _check_redis_url(redis_url)
    archive_url = _check_archive_url(env.get("LIVE_ARCHIVE_URL") or (data_dir / "archive").as_uri())
    secret = env.get("LIVE_SECRET") or ""
    payment_secret = env.get("LIVE_PAYMENT_SECRET") or ""
    if redis_url is not None and (not secret or not payment_secret):
        # With shared engines several nodes serve one brand; secrets generated per node would
        # make every node refuse the others' tokens.
        raise SettingsError(
            "LIVE_SECRET and LIVE_PAYMENT_SECRET must be set when LIVE_REDIS_URL is (shared mode)"
        )
    if not secret or not payment_secret:
        stored = _embedded_secrets(data_dir)
        secret = secret or stored["secret"]
        payment_secret = payment_secret or stored["payment_secret"]
    if len(secret) < 32:
        # HS256 keys shorter than the hash (32 bytes) are weak (RFC 7518, section 3.2).
        raise SettingsError("LIVE_SECRET must be at least 32 characters")
    if len(payment_secret) < 32:
        raise SettingsError("LIVE_PAYMENT_SECRET must be at least 32 characters")
    payment_provider = _payment_provider(env)
    wechatpay = _wechatpay(env, payment_provider)
    numbers: dict[str, Any] = {
        **{name: _int(env, name, minimum=least) for name, least in _INTEGERS.items()},
        **{name: _float(env, name, zero_ok=zero) for name, zero in _NUMBERS.items()},
    }
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        archive_url=archive_url,
        s3_endpoint_url=env.get("LIVE_S3_ENDPOINT_URL") or None,
        secret=secret,
        payment_secret=payment_secret,
        public_ws_url=env.get("LIVE_PUBLIC_WS_URL") or None,
        dev_signin=_flag(env, "LIVE_DEV_SIGNIN"),
        allowed_origins=_origins(env.get("LIVE_ALLOWED_ORIGINS") or ""),
        log_format=_log_format(env.get("LIVE_LOG_FORMAT"), shared=redis_url is not None),
        access_log=_bool(env, "access_log"),
        payment_provider=payment_provider,
        wechatpay=wechatpay,
        metrics_dir=_metrics_dir(env.get("PROMETHEUS_MULTIPROC_DIR") or None),
        **numbers,
    )
