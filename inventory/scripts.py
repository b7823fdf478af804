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


def versioned(name: str) -> str:
    """The script ``name`` preceded by ``version.lua`` (its ``next_version`` helper)."""
    return source("version") + "\n" + source(name)


@dataclass(frozen=True, slots=True)
class Scripts:
    """The registered scripts of one Redis client (reserve goes through
    `common.autopipeline` instead)."""

    load: AsyncScript
    bump_terms: AsyncScript
    release: AsyncScript
    commit: AsyncScript
    claim_coupon: AsyncScript
    unclaim_coupon: AsyncScript
    offer: AsyncScript
    give_back: AsyncScript

    @classmethod
    def register(cls, redis: "Redis") -> "Scripts":
        """Register every script on ``redis`` (no round trip until first use)."""
        return cls(
            load=redis.register_script(versioned("load")),
            bump_terms=redis.register_script(versioned("bump_terms")),
            release=redis.register_script(versioned("release")),
            commit=redis.register_script(source("commit")),
            claim_coupon=redis.register_script(versioned("claim_coupon")),
            unclaim_coupon=redis.register_script(versioned("unclaim_coupon")),
            offer=redis.register_script(versioned("offer")),
            give_back=redis.register_script(versioned("give_back")),
        )
