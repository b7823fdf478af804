"""`load_settings`: defaults, validation that names the variable, persisted secrets."""

import stat
from pathlib import Path

import pytest

from live.platform.settings import SettingsError, load_settings, redact_url

GOOD_SECRET = "s" * 32


def test_defaults_are_the_embedded_engines(tmp_path: Path) -> None:
    """No configuration: private Valkey, SQLite and a file archive under the data dir."""
    settings = load_settings({"LIVE_DATA_DIR": str(tmp_path)})
    assert settings.data_dir == tmp_path
    assert settings.redis_url is None
    assert settings.embedded_redis
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    assert settings.archive_url == (tmp_path / "archive").as_uri()
    assert settings.s3_endpoint_url is None
    assert settings.public_ws_url is None
    assert len(settings.secret) >= 32
    assert len(settings.payment_secret) >= 32
    assert settings.secret != settings.payment_secret


def test_data_dir_defaults_to_dot_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LIVE_DATA_DIR the data lives in ./.live, as an absolute path."""
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).data_dir == tmp_path / ".live"


SHARED_SECRETS = {
    "LIVE_SECRET": "shared-secret-0123456789abcdef0123456789",
    "LIVE_PAYMENT_SECRET": "shared-payment-secret-0123456789abcdef",
}


def test_cluster_url_names_a_redis_cluster(tmp_path: Path) -> None:
    """``redis+cluster://`` (and ``rediss+cluster://``) selects the cluster client; ``redis://``
    does not."""
    for url, cluster in [
        ("redis+cluster://node-1:7000", True),
        ("rediss+cluster://node-1:7000", True),
        ("redis://cache:6379/0", False),
    ]:
        env = {"LIVE_DATA_DIR": str(tmp_path), "LIVE_REDIS_URL": url, **SHARED_SECRETS}
        assert load_settings(env).redis_cluster is cluster


def test_shared_redis_requires_shared_secrets(tmp_path: Path) -> None:
    """With LIVE_REDIS_URL set, missing secrets stop start-up instead of differing per node."""
    env = {"LIVE_DATA_DIR": str(tmp_path), "LIVE_REDIS_URL": "redis://cache:6379/0"}
    with pytest.raises(SettingsError, match="LIVE_SECRET and LIVE_PAYMENT_SECRET"):
        load_settings(env)
    assert not (tmp_path / "secrets.json").exists()


def test_external_engines_are_taken_as_given(tmp_path: Path) -> None:
    """LIVE_DATABASE_URL, LIVE_REDIS_URL, LIVE_ARCHIVE_URL and the tuning knobs are honoured."""
    env = {
        "LIVE_DATA_DIR": str(tmp_path),
        "LIVE_DATABASE_URL": "postgresql+asyncpg://live:pw@db.internal:5432/live",
        "LIVE_REDIS_URL": "rediss://cache.internal:6380/2",
        "LIVE_ARCHIVE_URL": "s3://archive-bucket/live",
        "LIVE_S3_ENDPOINT_URL": "http://minio:9000",
        "LIVE_PUBLIC_WS_URL": "wss://live.example.com",
        "LIVE_TICK_MS": "100",
        "LIVE_HOLD_TTL_S": "60",
        **SHARED_SECRETS,
    }
    settings = load_settings(env)
    assert settings.database_url == env["LIVE_DATABASE_URL"]
    assert settings.redis_url == env["LIVE_REDIS_URL"]
    assert not settings.embedded_redis
    assert settings.archive_url == env["LIVE_ARCHIVE_URL"]
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.public_ws_url == "wss://live.example.com"
    assert (settings.tick_ms, settings.hold_ttl_s) == (100, 60)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVE_DATABASE_URL", "mysql://x"),
        ("LIVE_DATABASE_URL", "postgresql://u@h/db"),
        ("LIVE_DATABASE_URL", "postgresql+asyncpg://u@h:notaport/db"),
        ("LIVE_DATABASE_URL", "sqlite+aiosqlite://"),
        ("LIVE_DATABASE_URL", "sqlite+aiosqlite:///:memory:"),
        ("LIVE_DATABASE_URL", "not a url"),
        ("LIVE_REDIS_URL", "http://127.0.0.1:6379"),
        ("LIVE_REDIS_URL", "redis://127.0.0.1:notaport/0"),
        ("LIVE_REDIS_URL", "redis+cluster:///0"),
        ("LIVE_ARCHIVE_URL", "ftp://x"),
        ("LIVE_ARCHIVE_URL", "file://relative/dir"),
        ("LIVE_ARCHIVE_URL", "file:relative/dir"),
        ("LIVE_ARCHIVE_URL", "s3:///prefix-without-bucket"),
        ("LIVE_SECRET", "s" * 31),
        ("LIVE_PAYMENT_SECRET", "p" * 31),
        ("LIVE_TICK_MS", "fast"),
        ("LIVE_TICK_MS", "5"),
        ("LIVE_HOLD_TTL_S", "0"),
        ("LIVE_ATTRIBUTION_WINDOW_S", "-1"),
        ("LIVE_COMMENTS_PER_TICK", "1.5"),
        ("LIVE_ARCHIVE_SEGMENT_EVENTS", "0"),
        ("LIVE_ARCHIVE_SEGMENT_MS", "10"),
        ("LIVE_ALLOWED_ORIGINS", "shop.example.com"),
        ("LIVE_ALLOWED_ORIGINS", "https://shop.example.com/page"),
        ("LIVE_MAX_SOCKETS_PER_IP", "0"),
        ("LIVE_MAX_SOCKETS_PER_USER", "many"),
        ("LIVE_WRITE_RATE_PER_S", "nan"),
        ("LIVE_WRITE_RATE_PER_S", "-1"),
        ("LIVE_WRITE_BURST", "0"),
        ("LIVE_LOG_FORMAT", "xml"),
        ("LIVE_ACCESS_LOG", "maybe"),
        ("LIVE_SHUTDOWN_DRAIN_S", "0"),
        ("LIVE_GC_FREEZE_S", "-1"),
        ("LIVE_DB_POOL_SIZE", "0"),
        ("LIVE_GC_SWEEP_S", "inf"),
        ("LIVE_GC_SWEEP_GROWTH", "half"),
    ],
)
def test_bad_value_names_its_variable(tmp_path: Path, name: str, value: str) -> None:
    """Every malformed setting raises SettingsError whose message starts with its name."""
    with pytest.raises(SettingsError) as raised:
        load_settings({"LIVE_DATA_DIR": str(tmp_path), name: value})
    assert str(raised.value).startswith(name), raised.value


def test_error_messages_hide_passwords(tmp_path: Path) -> None:
    """A rejected URL is echoed with its password masked."""
    env = {"LIVE_DATA_DIR": str(tmp_path), "LIVE_DATABASE_URL": "mysql://app:hunter2@db/x"}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert str(raised.value).startswith("LIVE_DATABASE_URL=mysql://app:***@db/x")
    assert "hunter2" not in str(raised.value)


def test_redact_url_masks_only_the_password() -> None:
    """`redact_url` keeps user, host, port and path, and leaves password-less URLs alone."""
    assert redact_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("postgresql+asyncpg://u:p@h/db") == "postgresql+asyncpg://u:***@h/db"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"


def test_unwritable_data_dir_names_live_data_dir(tmp_path: Path) -> None:
    """A data dir that cannot be created fails as a SettingsError, not an OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError, match=r"^LIVE_DATA_DIR="):
        load_settings({"LIVE_DATA_DIR": str(blocker / "data")})


def test_corrupt_secrets_file_names_live_data_dir(tmp_path: Path) -> None:
    """A damaged secrets.json is reported, never silently replaced."""
    (tmp_path / "secrets.json").write_text("{not json")
    with pytest.raises(SettingsError, match=r"^LIVE_DATA_DIR"):
        load_settings({"LIVE_DATA_DIR": str(tmp_path)})
    assert (tmp_path / "secrets.json").read_text() == "{not json"


def test_embedded_secrets_are_generated_once(tmp_path: Path) -> None:
    """Two loads on one data dir share secrets kept owner-only; another dir gets its own."""
    first = load_settings({"LIVE_DATA_DIR": str(tmp_path / "a")})
    again = load_settings({"LIVE_DATA_DIR": str(tmp_path / "a")})
    other = load_settings({"LIVE_DATA_DIR": str(tmp_path / "b")})
    assert (again.secret, again.payment_secret) == (first.secret, first.payment_secret)
    assert other.secret != first.secret
    mode = (tmp_path / "a" / "secrets.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["secrets.json"]


def test_live_secret_is_honoured(tmp_path: Path) -> None:
    """LIVE_SECRET replaces the generated signing secret; the payment one is still generated."""
    settings = load_settings({"LIVE_DATA_DIR": str(tmp_path), "LIVE_SECRET": GOOD_SECRET})
    assert settings.secret == GOOD_SECRET
    assert len(settings.payment_secret) >= 32
    assert load_settings({"LIVE_DATA_DIR": str(tmp_path)}).secret != GOOD_SECRET


def test_both_secrets_from_env_write_nothing(tmp_path: Path) -> None:
    """With LIVE_SECRET and LIVE_PAYMENT_SECRET set, no secrets file is created."""
    env = {
        "LIVE_DATA_DIR": str(tmp_path / "data"),
        "LIVE_SECRET": GOOD_SECRET,
        "LIVE_PAYMENT_SECRET": "p" * 40,
    }
    settings = load_settings(env)
    assert (settings.secret, settings.payment_secret) == (GOOD_SECRET, "p" * 40)
    assert not (tmp_path / "data").exists()


def test_hardening_settings_are_read(tmp_path: Path) -> None:
    """Origins are normalised; caps, write limits, log format and drain time are taken as given."""
    settings = load_settings(
        {
            "LIVE_DATA_DIR": str(tmp_path),
            "LIVE_ALLOWED_ORIGINS": "https://Shop.example.com/, http://localhost:8080",
            "LIVE_MAX_SOCKETS_PER_IP": "50",
            "LIVE_MAX_SOCKETS_PER_USER": "4",
            "LIVE_WRITE_RATE_PER_S": "2.5",
            "LIVE_WRITE_BURST": "5",
            "LIVE_LOG_FORMAT": "json",
            "LIVE_ACCESS_LOG": "off",
            "LIVE_SHUTDOWN_DRAIN_S": "1.5",
        }
    )
    assert settings.allowed_origins == ("https://shop.example.com", "http://localhost:8080")
    assert (settings.max_sockets_per_ip, settings.max_sockets_per_user) == (50, 4)
    assert (settings.write_rate_per_s, settings.write_burst) == (2.5, 5)
    assert (settings.log_format, settings.access_log, settings.shutdown_drain_s) == (
        "json",
        False,
        1.5,
    )
    assert load_settings({"LIVE_DATA_DIR": str(tmp_path)}).log_format == "text"


def test_collector_settings_take_zero_for_off(tmp_path: Path) -> None:
    """The collector policy's settings document 0 as "off" (operations.md), so 0 is accepted."""
    settings = load_settings(
        {
            "LIVE_DATA_DIR": str(tmp_path),
            "LIVE_GC_FREEZE_S": "0",
            "LIVE_GC_SWEEP_S": "0",
            "LIVE_GC_SWEEP_GROWTH": "0",
        }
    )
    assert (settings.gc_freeze_s, settings.gc_sweep_s, settings.gc_sweep_growth) == (0, 0, 0)
    defaults = load_settings({"LIVE_DATA_DIR": str(tmp_path)})
    assert (defaults.gc_freeze_s, defaults.gc_sweep_s, defaults.gc_sweep_growth) == (1, 60, 0.5)
