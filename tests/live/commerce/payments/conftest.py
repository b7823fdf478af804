"""Servers for the payment tests: one paying through the WeChat Pay stand-in, one with the
development provider."""

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from live.platform.settings import WeChatPaySettings
from tests.live.commerce.payments.wechat_standin import StandIn, new_key, private_pem
from tests.support.ports import free_port
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.units import UNIT_S

MCHID, APPID = "1900000109", "wxd678efh567hg6787"


@dataclass
class WeChatWorld:
    """The app paying through the stand-in, and the stand-in itself."""

    server: LiveServer
    standin: StandIn
    merchant_serial: str


async def _serve(app: object, port: int) -> tuple[uvicorn.Server, "asyncio.Task[None]"]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10 * UNIT_S):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    return server, task


@pytest.fixture
async def wechat(
    data_dir: Path, database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[WeChatWorld]:
    """The app with ``LIVE_PAYMENT_PROVIDER=wechat`` against a stand-in gateway."""
    merchant_key = new_key()
    key_file = tmp_path / "apiclient_key.pem"
    key_file.write_text(private_pem(merchant_key))
    apiv3_key = secrets.token_hex(16)
    standin = StandIn(MCHID, APPID, apiv3_key, merchant_key.public_key())
    gateway_port, app_port = free_port(), free_port()
    gateway, gateway_task = await _serve(standin.app(), gateway_port)
    merchant_serial = secrets.token_hex(20).upper()
    settings = settings_for(
        data_dir,
        database_url=database_url,
        redis_url=redis_url,
        payment_provider="wechat",
        wechatpay=WeChatPaySettings(
            mchid=MCHID,
            appid=APPID,
            cert_serial_no=merchant_serial,
            private_key=key_file.read_text(),
            apiv3_key=apiv3_key,
            notify_url=f"http://127.0.0.1:{app_port}/api/payments/wechat/notify",
            gateway=f"http://127.0.0.1:{gateway_port}",
        ),
    )
    server = await start_server(settings, port=app_port)
    try:
        yield WeChatWorld(server, standin, merchant_serial)
    finally:
        await server.stop()
        gateway.should_exit = True
        await gateway_task


@pytest.fixture
async def dev_paying(
    data_dir: Path, database_url: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """The app with the development payment provider (as `live demo` runs it)."""
    settings = settings_for(data_dir, database_url=database_url, redis_url=redis_url)
    server = await start_server(dataclasses.replace(settings, payment_provider="dev"))
    try:
        yield server
    finally:
        await server.stop()
