"""Fixtures of the reservation tests: a brand's webhook receiver, where reminders arrive."""

from collections.abc import AsyncIterator

import pytest

from tests.live.webhooks.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port."""
    served = Receiver()
    await served.start()
    try:
        yield served
    finally:
        await served.stop()
