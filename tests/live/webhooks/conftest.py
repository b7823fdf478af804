"""Fixtures of the webhook tests: a receiver, and a node whose webhook clock runs fast."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.webhooks.receiver import Receiver
from tests.support.servers import LiveServer, settings_for, start_server

#: Webhook settings of the tests: the production schedule (5 s doubling to 2 h, over 24 h)
#: compressed 100 times, and a 1 s attempt timeout so a killed node's leases run out in 4 s.
FAST: dict[str, Any] = {
    "webhook_poll_ms": 20,
    "webhook_timeout_s": 1.0,
    "webhook_retry_base_s": 0.05,
    "webhook_retry_max_s": 72.0,
    "webhook_give_up_s": 864.0,
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port."""
    served = Receiver()
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


@pytest.fixture
async def hooked(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    """One node with the compressed webhook schedule."""
    live = await start_server(
        settings_for(data_dir, database_url=database_url, redis_url=redis_url, **FAST)
    )
    try:
        yield live
    finally:
        await live.stop()
