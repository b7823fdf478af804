"""The Redis connection the app's pool makes: redis-py's, writing without a task per command,
its commands packed by hiredis.

redis-py bounds every write by ``socket_timeout`` through ``asyncio.wait_for``, which wraps the
write in a new task: about a sixth of the CPU of a refused flash-sale attempt in the profile of
``loadtests/flash_sale.py`` (docs/benchmarks.md). A write to a socket only ever waits when the
kernel's buffer is full, and then the same bound applies here through ``asyncio.timeout``,
which needs no task. Reads keep redis-py's own timeout.

redis-py's asyncio connection packs commands in Python (about 17 us for a reserve's EVALSHA
of 22 arguments on this machine) even when hiredis is installed, where its synchronous
connection packs them with ``hiredis.pack_command`` (about 5 us). Packing here is the
synchronous client's own serializer: the same bytes, and the same `DataError` for arguments
redis-py refuses (None, bool).
"""

import asyncio
from collections.abc import Iterable

import hiredis
from redis.asyncio import Connection
from redis.connection import HiredisRespSerializer
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

_HIREDIS = HiredisRespSerializer()  # type: ignore[no-untyped-call]  # untyped since redis-py 8.2


class TasklessWriteConnection(Connection):
    """A TCP connection to Redis whose writes are bounded without an extra task each."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        """The command in the Redis protocol, packed in C."""
        encoder = self.encoder
        # hiredis writes text as strict UTF-8: other encodings keep redis-py's packing.
        if encoder.encoding.lower() not in {"utf-8", "utf8"} or encoder.encoding_errors != "strict":
            return super().pack_command(*args)
        try:
            # Most commands: hiredis straight away, without the serializer's loop over them.
            if isinstance(args[0], str) and " " not in args[0]:
                # hiredis's stub types the tuple as having one element; it takes any number.
                return [hiredis.pack_command(args)]  # type: ignore[arg-type]
        except TypeError:
            pass  # a bytearray (the serializer converts it), or what it refuses with DataError
        # redis-py annotates each argument of `pack` as a list; they are command arguments.
        packed: list[bytes] = _HIREDIS.pack(*args)  # type: ignore[arg-type]
        return packed

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
