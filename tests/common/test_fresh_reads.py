"""`FreshRead`: callers share reads, and each is answered by a read that began after it asked,
in any interleaving of asks and answers (hypothesis), with errors and callers giving up."""

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.fresh_reads import FreshRead


class Reads:
    """A read whose calls are numbered as they start and answered when the test says so."""

    def __init__(self) -> None:
        self.started = 0
        self._answers: list[asyncio.Future[int]] = []

    async def read(self) -> int:
        self.started += 1
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._answers.append(answer)
        await answer
        return answer.result()

    def answer(self, error: Exception | None = None) -> None:
        """Answer the read in flight with its number (or fail it with ``error``)."""
        answer = self._answers.pop(0)
        while answer.done():  # its reader was cancelled
            answer = self._answers.pop(0)
        if error is None:
            answer.set_result(self.started)
        else:
            answer.set_exception(error)

    @property
    def in_flight(self) -> int:
        return sum(not answer.done() for answer in self._answers)


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_callers_during_a_read_share_the_next_one() -> None:
    """The first caller starts a read; the two who ask while it is in flight get one read
    started after it, not that one."""
    reads = Reads()
    fresh = FreshRead(reads.read)
    first = asyncio.create_task(fresh.get())
    await _turns()
    assert reads.started == 1
    later = [asyncio.create_task(fresh.get()) for _ in range(2)]
    await _turns()
    assert reads.started == 1  # nobody's answer may come from a read older than their ask
    reads.answer()
    await _turns()
    assert await first == 1
    assert reads.started == 2
    reads.answer()
    assert await asyncio.gather(*later) == [2, 2]


async def test_an_error_reaches_every_caller_of_that_read_only() -> None:
    """A failed read fails its callers; those waiting for the next read get that one."""
    reads = Reads()
    fresh = FreshRead(reads.read)
    first = [asyncio.create_task(fresh.get()) for _ in range(3)]
    await _turns()
    waiting = asyncio.create_task(fresh.get())
    await _turns()
    reads.answer(ConnectionError("redis went away"))
    for caller in first:
        with pytest.raises(ConnectionError, match="redis went away"):
            await caller
    await _turns()
    reads.answer()
    assert await waiting == 2


async def test_a_caller_who_gives_up_leaves_the_read_to_the_others() -> None:
    reads = Reads()
    fresh = FreshRead(reads.read)
    callers = [asyncio.create_task(fresh.get()) for _ in range(3)]
    await _turns()
    callers[0].cancel()
    await _turns()
    assert reads.in_flight == 1
    reads.answer()
    assert await asyncio.gather(*callers[1:]) == [1, 1]
    assert callers[0].cancelled()


async def test_a_stopped_reader_cancels_its_callers_and_the_next_ask_starts_again() -> None:
    reads = Reads()
    fresh = FreshRead(reads.read)
    caller = asyncio.create_task(fresh.get())
    await _turns()
    reader = fresh._reader
    assert reader is not None
    reader.cancel()
    await _turns()
    assert caller.cancelled()
    again = asyncio.create_task(fresh.get())
    await _turns()
    assert reads.in_flight == 1
    reads.answer()
    assert await again == 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["ask", "answer"]), max_size=40))
def test_every_answer_comes_from_the_first_read_started_after_the_ask(steps: list[str]) -> None:
    """Any interleaving of asks and answers: each caller gets the number of the first read that
    started after it asked, and at most one read is in flight."""

    async def run() -> None:
        reads = Reads()
        fresh = FreshRead(reads.read)
        asked: list[tuple[int, asyncio.Task[int]]] = []
        for step in steps:
            if step == "ask":
                asked.append((reads.started, asyncio.create_task(fresh.get())))
            elif reads.in_flight:
                reads.answer()
            await _turns()
            assert reads.in_flight <= 1
        while reads.in_flight:
            reads.answer()
            await _turns()
        for started_before, caller in asked:
            assert caller.done()
            assert await caller == started_before + 1

    asyncio.run(run())
