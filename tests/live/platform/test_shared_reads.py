"""Shared reads: one load for concurrent callers, a new one when the version moves or the
result ages, failures never kept, one caller's cancellation never another's."""

import asyncio

import pytest

from live.platform.shared_reads import SharedReads
from tests.support.clocks import HandClock


class Loads:
    """A load function that counts its calls and can be held until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail = False

    async def __call__(self) -> int:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("record unavailable")
        return self.calls


async def test_concurrent_callers_share_one_load() -> None:
    """Fifty callers arriving while a load runs get its one result; a later caller reuses it."""
    reads, loads = SharedReads(max_age_s=60), Loads()
    loads.release.clear()
    waiting = [asyncio.create_task(reads.get("s1", loads, version=7)) for _ in range(50)]
    await asyncio.sleep(0)
    loads.release.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    assert loads.calls == 1
    # A later caller at the same version reuses the result.
    assert await reads.get("s1", loads, version=7) == 1
    assert loads.calls == 1


async def test_a_new_version_or_an_old_result_loads_again() -> None:
    """A caller with another version, or one coming ``max_age_s`` after the load, loads again;
    a younger result of the same version is reused."""
    clock = HandClock()
    reads, loads = SharedReads(max_age_s=1.0, clock=clock), Loads()
    assert await reads.get("s1", loads, version=1) == 1
    assert await reads.get("s1", loads, version=2) == 2
    assert await reads.get("s2", loads, version=2) == 3  # another key is another read
    clock.advance(0.5)
    assert await reads.get("s1", loads, version=2) == 2  # still young enough
    clock.advance(0.5)
    assert await reads.get("s1", loads, version=2) == 4


async def test_a_failed_load_is_not_kept() -> None:
    """After a load that raised, the next caller loads again instead of getting the error."""
    reads, loads = SharedReads(max_age_s=60), Loads()
    loads.fail = True
    with pytest.raises(RuntimeError):
        await reads.get("s1", loads)
    loads.fail = False
    assert await reads.get("s1", loads) == 2


async def test_a_caller_giving_up_does_not_cancel_the_others() -> None:
    """One waiting caller cancelled leaves the shared load running for the others."""
    reads, loads = SharedReads(max_age_s=60), Loads()
    loads.release.clear()
    impatient = asyncio.create_task(reads.get("s1", loads))
    patient = asyncio.create_task(reads.get("s1", loads))
    await asyncio.sleep(0)
    impatient.cancel()
    loads.release.set()
    assert await patient == 1
    assert impatient.cancelled()
