"""The app trims archived stream entries; viewers reconnecting with `since` still catch up."""

from typing import Any

import pytest
import redis.asyncio as aioredis

from realtime import keys
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session

RETAIN = 3


@pytest.fixture
async def trimming_server(server_with: ServerWith) -> LiveServer:
    """An app that keeps only the last `RETAIN` archived entries of each stream."""
    return await server_with(archive_retain_events=RETAIN)


async def _first_seq(redis: aioredis.Redis, key: str) -> int | None:
    entries: Any = await redis.xrange(key, count=1)
    return int(entries[0][0].decode().partition("-")[0]) if entries else None


async def test_archived_entries_are_trimmed_and_old_since_gets_a_snapshot(
    trimming_server: LiveServer, redis: aioredis.Redis
) -> None:
    """Archived events beyond the retention leave the stream; a too-old `since` gets a snapshot."""
    server = trimming_server
    opened = await open_session(server)
    sid = opened.session_id
    stream = keys.events_stream(sid)
    async with server.client(opened.host_token) as host:
        for _ in range(8):
            answer = await host.post(
                f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id}
            )
            assert answer.status_code == 200, answer.text
    last = int(await redis.get(keys.events_seq(sid)) or 0)

    async def trimmed() -> bool:
        return await _first_seq(redis, stream) == last - RETAIN + 1

    await eventually(trimmed)
    assert await redis.xlen(stream) == RETAIN

    token = server.token("viewer", "v")
    stale = await Room.join(server.ws_url(sid, token, since=1))
    snapshot = await stale.next_frame()
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == last
    await stale.close()

    recent = await Room.join(server.ws_url(sid, token, since=last - 1))
    caught_up = await recent.next_frame()
    assert (caught_up["type"], caught_up["seq"]) == ("pin", last)
    await recent.close()
