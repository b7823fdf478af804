"""`Lease`: an expiring per-key lock in Redis, held by one owner at a time.

A lease is taken with ``SET key owner NX PX ttl`` and renewed by its owner before it expires;
an owner that stops renewing (a killed node) loses it after `ttl_ms`, and another owner can then
take over. Renewal and release check the owner atomically (Lua), so nobody ever extends or
deletes a lease it does not hold. A lease is advisory: its holder must renew it before each step
that must not overlap with another holder, and keep each step much shorter than `ttl_ms`.
"""

from importlib import resources

import redis.asyncio as aioredis


def _script(name: str) -> str:
    return resources.files("replay").joinpath("lua", name).read_text(encoding="utf-8")


class Lease:
    """Leases owned by `owner` (the node id), each living `ttl_ms` after its last renewal."""

    def __init__(self, redis: aioredis.Redis, owner: str, *, ttl_ms: int) -> None:
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._acquire = redis.register_script(_script("lease_acquire.lua"))
        self._release = redis.register_script(_script("lease_release.lua"))

    async def acquire(self, key: str) -> bool:
        """Take or renew the lease `key`: True when this owner holds it for `ttl_ms` from now."""
        held = await self._acquire(keys=[key], args=[self.owner, self.ttl_ms])
        return bool(held)

    async def release(self, key: str) -> None:
        """Give the lease `key` up if this owner holds it; a no-op otherwise."""
        await self._release(keys=[key], args=[self.owner])
