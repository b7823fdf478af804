"""Writing guide bindings to the record in batches, off the join's path.

A viewer whose arrival binds them to a guide (`live.guides.arrivals`) is recorded in
``guide_bindings`` (the guides' "viewers brought"). At a session's start thousands of viewers
arrive through guides' links within seconds; one insert per join put thousands of record
transactions in line ahead of the host's pin. The binding that attribution reads lives in
Redis and is set before the join goes on; the record's row only counts the viewer for reports,
so it can wait for the next batch.

Contract: `add` never waits for the record. Rows are inserted in the order added, up to
``max_batch`` per transaction, by one writer task at a time. A batch the record refuses (an
outage) is kept and tried again after ``retry_s``, in front of later rows; at most
``max_pending`` rows wait (past that new ones are dropped, with a warning: the viewers stay
bound in Redis, only the report loses them). `flush` writes what waits (the node's shutdown).
"""

import asyncio
import logging
from collections import deque
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import loops
from common.errors import OUTAGES, ClientError
from live.db.models import GuideBindingRow
from live.db.unit import transaction

log = logging.getLogger(__name__)

_BINDINGS = cast(Table, GuideBindingRow.__table__)
_INSERT = insert(_BINDINGS)
#: A batch the record did not take: an outage, or its refusal translated at the unit of work.
_NOT_WRITTEN: tuple[type[Exception], ...] = (*OUTAGES, ClientError)


class BindingWriter:
    """The node's queue of guide bindings waiting for the record."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = 500,
        max_pending: int = 100_000,
        retry_s: float = 1.0,
    ) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self._retry_s = retry_s
        self._max_pending = max_pending
        self._pending: deque[dict[str, Any]] = deque()
        self._writing: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.written = 0
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Rows waiting for the record."""
        return len(self._pending)

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row of ``guide_bindings`` (its columns by name)."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            log.warning("%d guide bindings wait for the record: dropping one", self.pending)
            return
        self._pending.append(row)
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._drain(), name="binding-writer")

    async def flush(self) -> None:
        """Stop retrying and write what waits now, one attempt per batch (the node stops)."""
        self._closing.set()
        if self._writing is not None:
            await self._writing
        while self._pending and await self._write_one_batch():
            pass

    async def _drain(self) -> None:
        # Let the rows of this loop turn's joins gather, so a storm writes few, big batches.
        await asyncio.sleep(0)
        while self._pending and not self._closing.is_set():
            if not await self._write_one_batch():
                await loops.rest(self._closing, self._retry_s)

    async def _write_one_batch(self) -> bool:
        batch = [self._pending[n] for n in range(min(self._max_batch, len(self._pending)))]
        try:
            async with transaction(self._factory) as db:
                await db.execute(_INSERT, batch)
        except _NOT_WRITTEN as exc:
            log.warning("%d guide bindings wait for the record: %s", len(batch), exc)
            return False
        for _ in batch:
            self._pending.popleft()
        self.written += len(batch)
        return True
