"""`Sender`: one HTTP POST of a signed payload, bounded in time, never following redirects.

Contract: `post` always returns an `Outcome` (it raises nothing but cancellation): a status
code when the endpoint answered within ``timeout_s`` (the body is read up to 1 KiB and
discarded), else the error in a few words. One connection pool per node, ``limit``
connections at most (the node's concurrency), kept between deliveries to the same hosts.
"""

import asyncio
import time

import aiohttp

from live.webhooks.deliveries import Outcome

USER_AGENT = "live-commerce-webhooks/1"
#: What is read of an answer's body at most (receivers answer with a short body or none).
ANSWER_BYTES = 1024


class Sender:
    """An aiohttp session of one node, opened on first use, closed by `aclose`."""

    def __init__(self, *, timeout_s: float, limit: int) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit),
                timeout=self._timeout,
                headers={"user-agent": USER_AGENT},
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        """POST ``body`` to ``url``; what happened, never an exception."""
        started_ms = int(time.time() * 1000)
        clock = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                status = answer.status
                await answer.content.read(ANSWER_BYTES)
        except TimeoutError:
            error = "timeout"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        duration_ms = round((time.perf_counter() - clock) * 1000)
        return Outcome(started_ms, duration_ms, status, error)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            # aiohttp's documented grace for SSL transports to close.
            await asyncio.sleep(0)
