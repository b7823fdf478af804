"""`AutoPipeline` on a real Redis: concurrent calls share pipelines, each gets its own answer
or error, and a script cache flushed under it is reloaded without running anything twice."""

import asyncio
import gc

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.autopipeline import AutoPipeline, pipeline_of

INCR_OR_FAIL = """
if ARGV[1] == 'fail' then
  return redis.error_reply('asked to fail')
end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


async def test_concurrent_calls_share_pipelines(redis: aioredis.Redis, unique_id: str) -> None:
    """Six hundred calls of one loop turn run in a few pipelines, each getting its own reply."""
    pipeline = AutoPipeline(redis)
    script = pipeline.script(INCR_OR_FAIL)
    key = f"{unique_id}:n"
    replies = await asyncio.gather(
        *(script(keys=[key], args=[1]) for _ in range(500)),
        *(pipeline.execute("SET", f"{key}:{n}", n) for n in range(100)),
    )
    assert sorted(replies[:500]) == list(range(1, 501))
    assert int(await redis.get(key) or 0) == 500
    assert await pipeline.execute("GET", f"{key}:7") == b"7"
    # 600 calls made in one loop turn: three pipelines of at most 256, plus the NOSCRIPT
    # round of reloading on a server that had not seen the script, plus the GET.
    assert pipeline.pipelines <= 7


async def test_each_call_gets_its_own_error(redis: aioredis.Redis, unique_id: str) -> None:
    """A script error reaches only the call that caused it; the batch's other calls succeed."""
    script = AutoPipeline(redis).script(INCR_OR_FAIL)
    key = f"{unique_id}:n"
    outcomes = await asyncio.gather(
        *(script(keys=[key], args=["fail" if n % 3 == 0 else 1]) for n in range(30)),
        return_exceptions=True,
    )
    failed = [o for o in outcomes if isinstance(o, ResponseError)]
    assert len(failed) == 10
    assert all("asked to fail" in str(o) for o in failed)
    assert sorted(o for o in outcomes if isinstance(o, int)) == list(range(1, 21))


async def test_flushed_script_cache_runs_nothing_twice(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """After SCRIPT FLUSH the scripts are loaded again and every call runs exactly once."""
    script = AutoPipeline(redis).script(INCR_OR_FAIL)
    key = f"{unique_id}:n"
    assert await script(keys=[key], args=[1]) == 1
    await redis.script_flush()
    replies = await asyncio.gather(*(script(keys=[key], args=[1]) for _ in range(40)))
    assert sorted(replies) == list(range(2, 42))
    assert int(await redis.get(key) or 0) == 41


async def test_a_lost_connection_fails_every_call_of_the_batch(unique_id: str) -> None:
    # Nothing listens on port 1: the pipeline cannot connect, and each caller hears so.
    """A pipeline that cannot connect fails each of its callers with a connection error."""
    unreachable = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    script = AutoPipeline(unreachable).script(INCR_OR_FAIL)
    try:
        outcomes = await asyncio.gather(
            *(script(keys=[unique_id], args=[1]) for _ in range(5)), return_exceptions=True
        )
    finally:
        await unreachable.aclose()
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)


async def test_a_cancelled_caller_does_not_disturb_the_others(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """Cancelling one caller leaves every other caller of its batch with its own reply."""
    script = AutoPipeline(redis).script(INCR_OR_FAIL)
    key = f"{unique_id}:n"
    calls = [asyncio.ensure_future(script(keys=[key], args=[1])) for _ in range(10)]
    calls[0].cancel()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    # The cancelled caller's script may still have run (as with a lone command); every other
    # caller got its own reply.
    answered = [o for o in outcomes[1:] if isinstance(o, int)]
    assert len(answered) == 9
    assert len(set(answered)) == 9


async def test_one_pipeline_per_client(redis: aioredis.Redis) -> None:
    """`pipeline_of` gives one client the same pipeline every time."""
    assert pipeline_of(redis) is pipeline_of(redis)


async def _mget_calls(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_the_same_read_in_one_turn_is_sent_once(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """Fifty joins of a room reading its positions in one turn cost Redis one MGET; each caller
    gets the reply as its own (a list it may change without touching the others')."""
    pipeline = AutoPipeline(redis)
    keys = [f"{unique_id}:a", f"{unique_id}:b"]
    await redis.set(keys[0], "1")
    before = await _mget_calls(redis)
    replies = await asyncio.gather(*(pipeline.execute("MGET", *keys) for _ in range(50)))
    assert await _mget_calls(redis) - before == 1
    assert all(reply == [b"1", None] for reply in replies)
    replies[0].append("changed")
    assert replies[1] == [b"1", None]


async def test_reads_are_shared_only_within_a_batch(redis: aioredis.Redis, unique_id: str) -> None:
    """A read made after its twin's batch went out is sent again and sees what was written
    meanwhile; reads of other keys and writes are never shared."""
    pipeline = AutoPipeline(redis)
    key = f"{unique_id}:n"
    first = asyncio.ensure_future(pipeline.execute("GET", key))
    await asyncio.sleep(0)  # the first call's batch goes out
    await pipeline.execute("SET", key, "2")
    assert await first is None
    assert await pipeline.execute("GET", key) == b"2"
    counted = await asyncio.gather(
        *(pipeline.execute("INCR", f"{key}:c") for _ in range(5)),
        *(pipeline.execute("GET", f"{key}:{n}") for n in range(5)),
    )
    assert sorted(counted[:5]) == [1, 2, 3, 4, 5]
    assert counted[5:] == [None] * 5


async def test_an_asked_read_goes_out_with_the_calls_made_after_it(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """`ask` queues its read at once: a script awaited after it shares its round trip, and the
    read sees the state before the script ran (Redis runs a batch in the order sent)."""
    pipeline = AutoPipeline(redis)
    script = pipeline.script(INCR_OR_FAIL)
    key = f"{unique_id}:n"
    await script(keys=[key], args=[1])  # loaded, and the key at 1
    batches = pipeline.pipelines
    asked = pipeline.ask("GET", key)
    assert await script(keys=[key], args=[1]) == 2
    assert asked.done()  # answered by the same batch, before the script's reply was read
    assert await asked == b"1"
    assert pipeline.pipelines - batches == 1


async def test_an_asked_read_nobody_awaits_fails_quietly(
    unique_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A read asked for and then not needed (its caller's reserve was refused) that fails is
    dropped without asyncio's "exception never retrieved"; awaited, it raises as `execute`."""
    unreachable = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        pipeline = AutoPipeline(unreachable)
        dropped = pipeline.ask("GET", unique_id)
        awaited = pipeline.ask("GET", f"{unique_id}:other")
        with pytest.raises(RedisConnectionError):
            await awaited
        await asyncio.wait([dropped])  # failed too, and nobody asked for its error
        del dropped
        gc.collect()
    finally:
        await unreachable.aclose()
    assert "never retrieved" not in caplog.text


async def test_a_shared_read_that_fails_fails_each_caller(unique_id: str) -> None:
    """Callers sharing one read each hear of the lost connection, as with their own."""
    unreachable = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        pipeline = AutoPipeline(unreachable)
        outcomes = await asyncio.gather(
            *(pipeline.execute("GET", unique_id) for _ in range(5)), return_exceptions=True
        )
    finally:
        await unreachable.aclose()
    assert len(outcomes) == 5
    assert all(isinstance(o, RedisConnectionError) for o in outcomes)


async def test_a_cancelled_sharer_leaves_the_read_to_the_others(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """The caller that made a shared read going away does not take the reply from the rest."""
    pipeline = AutoPipeline(redis)
    await redis.set(unique_id, "v")
    calls = [asyncio.ensure_future(pipeline.execute("GET", unique_id)) for _ in range(4)]
    await asyncio.sleep(0)
    calls[0].cancel()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert outcomes[1:] == [b"v"] * 3


async def test_replies_are_shaped_as_the_client_shapes_them(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """Each reply goes through the client's own response callbacks, as a lone command's."""
    pipeline = AutoPipeline(redis)
    key = f"{unique_id}:h"
    stored, counted, _ = await asyncio.gather(
        pipeline.execute("SET", f"{key}:s", "v"),
        pipeline.execute("INCRBYFLOAT", f"{key}:f", "1.5"),
        pipeline.execute("HSET", key, "a", "1"),
    )
    assert stored is True
    assert counted == await redis.incrbyfloat(f"{key}:f", 0)
    assert await pipeline.execute("HGETALL", key) == {b"a": b"1"}


async def test_a_batch_past_the_timeout_fails_and_its_connection_is_dropped(
    redis: aioredis.Redis, unique_id: str
) -> None:
    """A batch whose reply does not come within the client's socket timeout fails every call
    with redis-py's timeout error (what the app's outage handling catches); the connection it
    was read from is dropped, so the late reply never reaches the next caller."""
    where = redis.connection_pool.connection_kwargs
    client = aioredis.Redis(
        host=where["host"], port=where["port"], db=where.get("db", 0), socket_timeout=0.3
    )
    try:
        pipeline = AutoPipeline(client)
        await client.set(f"{unique_id}:k", "v")
        outcomes = await asyncio.gather(
            pipeline.execute("BLPOP", f"{unique_id}:empty", 1),
            pipeline.execute("GET", f"{unique_id}:k"),
            return_exceptions=True,
        )
        assert all(isinstance(o, RedisTimeoutError) for o in outcomes), outcomes
        await asyncio.sleep(1.2)  # the BLPOP's own reply (nil) is due by now
        assert await pipeline.execute("GET", f"{unique_id}:k") == b"v"
    finally:
        await client.aclose()
