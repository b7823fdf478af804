"""The Redis connection the app's pool makes: redis-py's, writing without a task per command.

redis-py bounds every write by ``socket_timeout`` through ``asyncio.wait_for``, which wraps the
write in a new task: about a sixth of the CPU of a refused flash-sale attempt in the profile of
``loadtests/flash_sale.py`` (docs/benchmarks.md). A write to a socket only ever waits when the
kernel's buffer is full, and then the same bound applies here through ``asyncio.timeout``,
which needs no task. Reads keep redis-py's own timeout.
"""

import asyncio
from collections.abc import Iterable

from redis.asyncio import Connection
from redis.exceptions import TimeoutError as RedisTimeoutError


class TasklessWriteConnection(Connection):
    """A TCP connection to Redis whose writes are bounded without an extra task each."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        bound = self.socket_timeout
        if not bound:
            await super().send_packed_command(command, check_health)
            return
        # With no socket_timeout, redis-py writes and drains directly; the bound is put back
        # before anything else can use this connection (a connection serves one command at a
        # time), and reads use it as usual.
        self.socket_timeout = None
        try:
            async with asyncio.timeout(bound):
                await super().send_packed_command(command, check_health)
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        finally:
            self.socket_timeout = bound
