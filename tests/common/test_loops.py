"""Background loops end between passes when the app stops, so no transaction is cut short."""

import asyncio
import logging
import random

import pytest
from sqlalchemy import text

from common import loops
from live.db.engine import create_engine, session_factory
from live.db.unit import transaction
from tests.support.units import UNIT_S

log = logging.getLogger(__name__)


async def test_stopping_lets_a_pass_in_a_transaction_finish(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped at random points of passes made of transactions, a loop ends after its pass:
    no pass is cancelled and the pool logs no error (a cancelled transaction's rollback does,
    as CI saw when the app cancelled its loops outright)."""
    caplog.set_level(logging.ERROR)
    engine = create_engine(database_url)
    factory = session_factory(engine)
    finished: list[bool] = []

    async def one_pass() -> None:
        try:
            for _ in range(5):
                async with transaction(factory) as db:
                    await db.execute(text("SELECT 1"))
        except asyncio.CancelledError:
            finished.append(False)
            raise
        finished.append(True)

    rng = random.Random(7)
    try:
        for _ in range(60):
            stopping = asyncio.Event()
            task = asyncio.create_task(
                loops.forever(one_pass, every_s=0, doing="test pass", log=log, stopping=stopping)
            )
            # A random point of a pass to stop at: the point in time is what the test varies.
            await asyncio.sleep(rng.random() * 0.02)
            await loops.stop([task], stopping, wait_s=10 * UNIT_S)
            assert not task.cancelled()  # it ended by itself, inside the wait
    finally:
        await engine.dispose()
    assert finished
    assert all(finished)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def test_a_pass_outliving_the_wait_is_cancelled() -> None:
    """A pass still running when the wait is over is cancelled: shutdown stays bounded."""
    stopping = asyncio.Event()
    started = asyncio.Event()

    async def stuck_pass() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(
        loops.forever(stuck_pass, every_s=1, doing="stuck pass", log=log, stopping=stopping)
    )
    await started.wait()
    async with asyncio.timeout(5 * UNIT_S):
        await loops.stop([task], stopping, wait_s=0.05 * UNIT_S)
    assert task.cancelled()


async def test_rest_ends_early_when_stopping() -> None:
    """A loop resting between passes wakes as soon as the app stops, not after its interval."""
    stopping = asyncio.Event()
    resting = asyncio.create_task(loops.rest(stopping, 3600))
    await asyncio.sleep(0)
    stopping.set()
    async with asyncio.timeout(5 * UNIT_S):
        assert await resting is True
    assert await loops.rest(asyncio.Event(), 0) is False
