"""The Lua scripts of inventory, read once from their ``.lua`` files and registered per client.

redis-py's `AsyncScript` calls EVALSHA and reloads the script on NOSCRIPT, so a Redis restart
that lost its script cache is survived without our help.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


@cache
def source(name: str) -> str:
    """The text of ``inventory/lua/<name>.lua``."""
    return resources.files("inventory").joinpath("lua", f"{name}.lua").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    """The registered scripts of one Redis client."""

    reserve: AsyncScript
    release: AsyncScript
    commit: AsyncScript
    claim_coupon: AsyncScript
    unclaim_coupon: AsyncScript

    @classmethod
    def register(cls, redis: "Redis") -> "Scripts":
        """Register every script on ``redis`` (no round trip until first use)."""
        return cls(
            reserve=redis.register_script(source("reserve")),
            release=redis.register_script(source("release")),
            commit=redis.register_script(source("commit")),
            claim_coupon=redis.register_script(source("claim_coupon")),
            unclaim_coupon=redis.register_script(source("unclaim_coupon")),
        )
