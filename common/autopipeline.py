"""Redis commands made in the same event-loop turn, sent as one pipeline (auto-pipelining).

In a flash crowd hundreds of reserves, announcements and attribution reads are in flight at
once. Sent one by one, each pays redis-py's whole per-command path (pool checkout, retry
wrapper, a send syscall, a read): in the profile of ``loadtests/flash_sale.py`` that was about
a third of the server's CPU. Gathered per loop turn they share one checkout, one send and one
read loop; Redis still runs each command on its own, in the order sent.

The batch goes out on a pooled connection directly, not through redis-py's pipeline: that one
builds a pipeline object per batch, runs it through the retry wrapper and the module hooks
of redis-py 8, and bounds each reply's read by its own ``asyncio.timeout``; in a join storm,
where a batch holds two or three calls, that was the larger part of a join's Redis cost
(62-84 us of CPU per batch of one here, 103 us through the pipeline). Here one timeout bounds
the whole batch, and each reply is parsed by the client's own `Redis.parse_response` (its
response callbacks). Redis Cluster keeps redis-py's pipeline, which splits a batch by slot.

Contract: every call gets exactly its own reply or its own error, as if it had been sent
alone. A script missing from Redis (NOSCRIPT after a restart) is loaded and the calls it
refused are sent again: a refused EVALSHA ran nothing, so nothing runs twice. A read (`READS`)
made again, with the same arguments, before its batch went out is sent once, and every caller
gets that one reply (a list is copied for each). A reply read after every one of its callers
asked is as good as their own for each of them; the same command sent twice in one pipeline
could only have seen a later write than the first. (A joining viewer's read of its room's
positions is shared further, across turns: `common.fresh_reads`.)
"""

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Calls sent in one pipeline at most; more go in the next.
MAX_BATCH = 256
#: Commands that only read: the same one made twice before its batch goes out is sent once.
READS = frozenset({"EXISTS", "GET", "HGET", "HGETALL", "HMGET", "MGET"})


@dataclass(slots=True)
class _Call:
    args: tuple[Any, ...]
    #: The script's source when ``args`` is an EVALSHA, to load it on NOSCRIPT.
    source: str | None = None
    answer: "asyncio.Future[Any]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    #: The same read made again before the batch went out: answered with this one's reply.
    again: "list[_Call] | None" = None


class AutoPipeline:
    """The commands of one Redis client, pipelined per loop turn."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._pending: list[_Call] = []
        #: The reads of `_pending`, by their arguments.
        self._reads: dict[tuple[Any, ...], _Call] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.pipelines = 0

    async def execute(self, *args: Any) -> Any:
        """Run one command, e.g. ``execute("GET", key)``; its reply, or the error it raised."""
        return await self._queue(_Call(args))

    def ask(self, *args: Any) -> "asyncio.Future[Any]":
        """Queue one command in this turn's batch now and return its reply's future: a read
        the caller needs only after the commands it sends next goes out with them, in the same
        round trip. A failure is raised where the future is awaited; one nobody awaits is
        dropped silently."""
        answer = self._queue(_Call(args))
        answer.add_done_callback(_retrieved)
        return answer

    def script(self, source: str) -> "BatchedScript":
        """A Lua script whose calls go through this pipeline."""
        return BatchedScript(self, source)

    def _queue(self, call: _Call) -> "asyncio.Future[Any]":
        if not self._pending:
            # Runs after the callbacks already ready in this turn, so the calls they make
            # join this batch.
            asyncio.get_running_loop().call_soon(self._flush)
        if call.args[0] in READS:
            try:
                made = self._reads.setdefault(call.args, call)
            except TypeError:  # an unhashable argument: simply sent as it is
                made = call
            if made is not call:
                if made.again is None:
                    made.again = []
                made.again.append(call)
                return call.answer
        self._pending.append(call)
        return call.answer

    def _flush(self) -> None:
        self._reads.clear()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            task = asyncio.create_task(self._send(batch), name="redis-auto-pipeline")
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        try:
            replies = await self._pipeline(batch)
            refused = [call for call, reply in zip(batch, replies, strict=True) if _noscript(reply)]
            if refused:
                for source in {call.source for call in refused if call.source is not None}:
                    await self._redis.script_load(source)
                for call, reply in zip(refused, await self._pipeline(refused), strict=True):
                    _settle(call, reply)
            for call, reply in zip(batch, replies, strict=True):
                if not _noscript(reply):
                    _settle(call, reply)
        except BaseException as exc:
            # The pipeline as a whole failed (connection lost, timeout, cancelled): every
            # call not answered yet gets that error, as a lone command would have.
            for call in batch:
                for caller in (call, *(call.again or ())):
                    if not caller.answer.done():
                        caller.answer.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        self.pipelines += 1
        redis = self._redis
        if not isinstance(redis, Redis) or redis.connection is not None:
            # Redis Cluster (typed as `Redis` for its shared commands), or a client with one
            # connection of its own: redis-py's pipeline knows their ways.
            return await self._redis_py_pipeline(batch)
        pool = redis.connection_pool
        # Untyped in redis-py: an `AbstractConnection` of the pool's class.
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        bound = connection.socket_timeout
        connection.socket_timeout = None  # one bound for the batch, not one per reply
        try:
            async with asyncio.timeout(bound):
                packed = connection.pack_commands([call.args for call in batch])
                await connection.send_packed_command(packed, check_health=False)
                replies: list[Any] = []
                for call in batch:
                    try:
                        replies.append(await redis.parse_response(connection, call.args[0]))
                    except ResponseError as exc:
                        replies.append(exc)
        except BaseException as exc:
            # Replies not read are still on the socket: it must not serve anyone else.
            await connection.disconnect(nowait=True)
            if isinstance(exc, TimeoutError):
                raise RedisTimeoutError("Timeout reading from Redis") from None
            raise
        finally:
            connection.socket_timeout = bound
            await pool.release(connection)
        return replies

    async def _redis_py_pipeline(self, batch: list[_Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.execute_command(*call.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


class BatchedScript:
    """A Lua script run by EVALSHA through an `AutoPipeline`."""

    def __init__(self, pipeline: AutoPipeline, source: str) -> None:
        self._pipeline = pipeline
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        """Run the script on ``keys`` and ``args``; its reply, or the error it raised."""
        call = _Call(("EVALSHA", self._sha, len(keys), *keys, *args), self._source)
        return await self._pipeline._queue(call)


_pipelines: "weakref.WeakKeyDictionary[Redis, AutoPipeline]" = weakref.WeakKeyDictionary()


def pipeline_of(redis: Redis) -> AutoPipeline:
    """The one `AutoPipeline` of a client, so that every module's calls share its batches."""
    pipeline = _pipelines.get(redis)
    if pipeline is None:
        pipeline = _pipelines[redis] = AutoPipeline(redis)
    return pipeline


def _retrieved(answer: "asyncio.Future[Any]") -> None:
    # Marks a failure as seen: asyncio logs one nobody retrieved, and a caller of `ask` may
    # have had no use for the reply after all.
    if not answer.cancelled():
        answer.exception()


def _noscript(reply: Any) -> bool:
    return isinstance(reply, NoScriptError)


def _settle(call: _Call, reply: Any) -> None:
    _answer(call.answer, reply)
    for again in call.again or ():
        _answer(again.answer, list(reply) if isinstance(reply, list) else reply)


def _answer(answer: "asyncio.Future[Any]", reply: Any) -> None:
    if answer.done():  # the caller went away
        return
    if isinstance(reply, Exception):
        answer.set_exception(reply)
    else:
        answer.set_result(reply)
