"""Development sign-in: tokens for anyone only when LIVE_DEV_SIGNIN is on, refused otherwise."""

from pathlib import Path

import pytest

from live.auth import tokens
from live.platform.settings import SettingsError, load_settings
from tests.support.servers import LiveServer


async def test_sign_in_is_refused_unless_the_setting_is_on(server: LiveServer) -> None:
    """A server without LIVE_DEV_SIGNIN answers not_found, naming the setting."""
    async with server.client() as client:
        answer = await client.post("/api/dev/signin", json={"role": "admin", "sub": "eve"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "LIVE_DEV_SIGNIN" in answer.json()["error"]["message"]


async def test_sign_in_mints_a_token_the_server_accepts(dev_server: LiveServer) -> None:
    """The minted host token creates a session in the named brand."""
    async with dev_server.client() as client:
        answer = await client.post(
            "/api/dev/signin",
            json={"role": "host", "sub": "hana", "name": "Hana", "brand": dev_server.brand},
        )
    assert answer.status_code == 200, answer.text
    minted = answer.json()
    claims = tokens.verify(minted["token"], dev_server.settings.secret)
    assert (claims.sub, claims.role, claims.brand, claims.name) == (
        "hana",
        tokens.Role.HOST,
        dev_server.brand,
        "Hana",
    )
    async with dev_server.client(minted["token"]) as host:
        created = await host.post("/api/sessions", json={"title": "Dev show"})
    assert created.status_code == 201


async def test_sign_in_checks_its_fields(dev_server: LiveServer) -> None:
    """An unknown role or a missing sub is invalid_request; the default brand is demo."""
    async with dev_server.client() as client:
        bad_role = await client.post("/api/dev/signin", json={"role": "root", "sub": "x"})
        no_sub = await client.post("/api/dev/signin", json={"role": "viewer"})
        default = await client.post("/api/dev/signin", json={"role": "viewer", "sub": "v"})
    assert bad_role.json()["error"]["code"] == "invalid_request"
    assert no_sub.json()["error"]["code"] == "invalid_request"
    assert default.json()["brand"] == "demo"


def test_the_setting_reads_one_or_zero(tmp_path: Path) -> None:
    """LIVE_DEV_SIGNIN=1 turns it on, absent leaves it off, anything else fails fast."""
    env = {"LIVE_DATA_DIR": str(tmp_path)}
    assert load_settings(env).dev_signin is False
    assert load_settings({**env, "LIVE_DEV_SIGNIN": "1"}).dev_signin is True
    with pytest.raises(SettingsError, match="LIVE_DEV_SIGNIN"):
        load_settings({**env, "LIVE_DEV_SIGNIN": "maybe"})
