"""Readiness: may this node take traffic now? Each engine is exercised, not just pinged.

- database: a query answered;
- redis: a round trip, and every Lua script the node uses is in the server's script cache
  (``SCRIPT EXISTS``); missing ones are loaded here, so the first reserve after a Redis restart
  does not pay a NOSCRIPT retry, and a server that refuses scripts (EVAL disabled, ACL) fails
  the check instead of the first sale;
- draining: a node shutting down is not ready;
- joins: a node whose join queue is half full is saturated (`realtime.admission`): not ready,
  so that the load balancer sends new viewers to another node while this one catches up.

The archive store is left out on purpose: an archive outage delays the archive, it does not
stop sales, so it must not take nodes out of the load balancer.
"""

from importlib import resources

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.scripts import Scripts
from live.db.engine import ping
from realtime.admission import JoinGate

#: The Lua files loaded as they are (inventory's are composed by `Scripts`).
_PLAIN_SCRIPTS = {
    "realtime": ("publish",),
    "replay": ("lease_acquire", "lease_release"),
    "live.guides": ("touch", "extend"),
    "live.webhooks": ("slot_acquire",),
}


def script_sources(redis: Redis) -> list[str]:
    """The text of every Lua script the app registers."""
    inventory = Scripts.register(redis)
    sources = [getattr(inventory, name).script for name in Scripts.__dataclass_fields__]
    for package, names in _PLAIN_SCRIPTS.items():
        folder = resources.files(package).joinpath("lua")
        sources.extend(folder.joinpath(f"{name}.lua").read_text("utf-8") for name in names)
    return sources


async def _scripts_loaded(redis: Redis) -> str:
    scripts = [redis.register_script(source) for source in script_sources(redis)]
    present = await redis.script_exists(*(script.sha for script in scripts))
    missing = [script for script, there in zip(scripts, present, strict=True) if not there]
    for script in missing:
        await redis.script_load(script.script)
    return f"ok ({len(scripts)} scripts, {len(missing)} loaded now)"


async def check(
    engine: AsyncEngine, redis: Redis, *, draining: bool, joins: JoinGate
) -> dict[str, str]:
    """``{check: "ok..." | reason}`` for database, redis, scripts, draining and joins."""
    checks = {"draining": "yes" if draining else "ok"}
    waiting = f"{joins.waiting} waiting, {joins.active} joining"
    checks["joins"] = f"saturated ({waiting})" if joins.saturated else f"ok ({waiting})"
    try:
        await ping(engine)
        checks["database"] = "ok"
    except (SQLAlchemyError, OSError) as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await redis.ping()
        checks["redis"] = "ok"
        checks["scripts"] = await _scripts_loaded(redis)
    except (RedisError, OSError) as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
        checks.setdefault("scripts", "unknown")
    return checks


def ready(checks: dict[str, str]) -> bool:
    """True when every check passed."""
    return all(value.startswith("ok") for value in checks.values())
