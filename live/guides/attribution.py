"""Attribution: which guide a viewer's purchases are credited to, by the brand's binding policy.

A viewer who joins through a guide's valid share code *touches* that guide. The brand's policy
(`Policy`, ``attribution_policies``) decides, in one Lua step per touch (``lua/touch.lua``):

- ``last_touch``: every touch binds the viewer to the touched guide for ``window_s``;
- ``first_touch``: the first guide keeps the viewer for ``protection_s`` from its touch; other
  guides' touches are ignored until it lapses, then the next touch binds;
- ``extend_on_order``: an order attributed to the bound guide restarts its window (or
  protection) from the order (``lua/extend.lua``);
- ``new_customers_only``: a viewer who already has a paid order in the brand is never bound
  (an existing binding is kept).

The binding lives in Redis with its expiry; the order row copies guide, store, touch time and
policy in its own transaction, so a paid order's attribution never depends on Redis afterwards.
docs/attribution.md has worked examples.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common import codec
from common.autopipeline import pipeline_of
from common.errors import ClientError, Code
from live.db.models import AttributionPolicyRow
from live.db.unit import transaction
from live.platform import clock
from live.platform.shared_reads import SharedReads

LAST_TOUCH, FIRST_TOUCH = "last_touch", "first_touch"
KINDS = (LAST_TOUCH, FIRST_TOUCH)
#: How long a node uses a brand's policy before reading it again.
POLICY_TTL_S = 5.0


@dataclass(frozen=True, slots=True)
class Policy:
    """A brand's binding policy."""

    kind: str = LAST_TOUCH
    window_s: int = 7 * 86_400
    protection_s: int = 7 * 86_400
    extend_on_order: bool = False
    new_customers_only: bool = False

    @property
    def span_ms(self) -> int:
        """How long a binding lasts from its (re)start."""
        return (self.window_s if self.kind == LAST_TOUCH else self.protection_s) * 1000

    def to_json(self) -> dict[str, Any]:
        """The policy as the API shows it."""
        return {
            "kind": self.kind,
            "window_s": self.window_s,
            "protection_s": self.protection_s,
            "extend_on_order": self.extend_on_order,
            "new_customers_only": self.new_customers_only,
        }


@dataclass(frozen=True, slots=True)
class Binding:
    """A viewer bound to a guide at ``touch_ms`` under policy ``policy``."""

    guide_id: str
    store: str | None
    session_id: str
    touch_ms: int
    policy: str = LAST_TOUCH


def binding_key(brand: str, viewer_id: str) -> str:
    """The Redis key of one viewer's binding within a brand."""
    return f"attr:{{{brand}}}:{viewer_id}"


@cache
def _source(name: str) -> str:
    return resources.files("live.guides").joinpath("lua", f"{name}.lua").read_text("utf-8")


async def touch(
    redis: Redis,
    brand: str,
    viewer_id: str,
    binding: Binding,
    policy: Policy,
    *,
    is_customer: bool = False,
) -> str:
    """Apply one touch; returns ``bound``, ``refreshed``, ``kept`` or ``customer``."""
    value = codec.encode_text(
        {
            "g": binding.guide_id,
            "st": binding.store,
            "s": binding.session_id,
            "t": binding.touch_ms,
            "b": binding.touch_ms,
            "k": policy.kind,
        }
    )
    try:
        outcome, _ = await redis.register_script(_source("touch"))(
            keys=[binding_key(brand, viewer_id)],
            args=[
                value,
                binding.guide_id,
                binding.touch_ms,
                policy.kind,
                policy.window_s * 1000,
                policy.protection_s * 1000,
                "1" if policy.new_customers_only else "0",
                "1" if is_customer else "0",
            ],
        )
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "attribution is unavailable") from exc
    return outcome.decode() if isinstance(outcome, bytes) else str(outcome)


async def extend(
    redis: Redis, brand: str, viewer_id: str, guide_id: str, policy: Policy, *, now_ms: int
) -> bool:
    """Restart the binding from an order (``extend_on_order``); False when nothing to extend."""
    if not policy.extend_on_order:
        return False
    try:
        until = await redis.register_script(_source("extend"))(
            keys=[binding_key(brand, viewer_id)], args=[guide_id, now_ms, policy.span_ms]
        )
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "attribution is unavailable") from exc
    return int(until) > 0


def ask(redis: Redis, brand: str, viewer_id: str) -> asyncio.Future[Any]:
    """Start reading the viewer's binding now, in this loop turn's Redis batch, for
    `binding_of` to finish: sent with the commands the caller makes next, not in a round trip
    after them."""
    return pipeline_of(redis).ask("GET", binding_key(brand, viewer_id))


async def lookup(
    redis: Redis, brand: str, viewer_id: str, *, now_ms: int | None = None
) -> Binding | None:
    """The viewer's binding at ``now_ms`` (now by default), or None; the read is pipelined
    with the other commands of the loop turn."""
    return await binding_of(ask(redis, brand, viewer_id), now_ms=now_ms)


async def binding_of(asked: asyncio.Future[Any], *, now_ms: int | None = None) -> Binding | None:
    """The binding the read `ask` started found, at ``now_ms`` (now by default), or None."""
    return _binding(await _reply(asked), clock.now_ms() if now_ms is None else now_ms)


def ask_all(redis: Redis, brand: str, viewer_ids: Iterable[str]) -> asyncio.Future[Any]:
    """Start reading the bindings of several viewers of ``brand``, for `bindings_of`: one
    ``MGET`` (one reply to parse, within the brand's hash slot) in this loop turn's batch."""
    return pipeline_of(redis).ask("MGET", *(binding_key(brand, v) for v in viewer_ids))


async def bindings_of(asked: asyncio.Future[Any]) -> list[Binding | None]:
    """The bindings the read `ask_all` started found now, in the order asked (None: unbound)."""
    raws: list[Any] = await _reply(asked)
    now = clock.now_ms()
    return [_binding(raw, now) for raw in raws]


async def _reply(asked: asyncio.Future[Any]) -> Any:
    try:
        return await asked
    except RedisError as exc:
        raise ClientError(Code.UNAVAILABLE, "attribution is unavailable") from exc


def _binding(raw: Any, now_ms: int) -> Binding | None:
    if raw is None:
        return None
    fields = codec.decode(raw)
    if int(fields.get("u", 0)) <= now_ms:
        return None
    return Binding(
        guide_id=fields["g"],
        store=fields.get("st"),
        session_id=fields["s"],
        touch_ms=int(fields["t"]),
        policy=str(fields.get("k", LAST_TOUCH)),
    )


class Policies:
    """Every brand's binding policy, read from the record and kept `POLICY_TTL_S` per node; one
    read in flight per brand (a join storm through guides' links asks thousands of times)."""

    def __init__(self, db: async_sessionmaker[AsyncSession], *, default: Policy) -> None:
        self._db = db
        self._default = default
        self._policies = SharedReads(max_age_s=POLICY_TTL_S)
        #: Bumped by every `put`: reads made before it are not reused after it.
        self._generation = 0

    async def get(self, brand: str) -> Policy:
        """The brand's policy (the default one until the brand sets its own)."""
        return await self._policies.get(brand, lambda: self._read(brand), version=self._generation)

    async def _read(self, brand: str) -> Policy:
        async with transaction(self._db) as db:
            row = await db.get(AttributionPolicyRow, brand)
        return self._default if row is None else _policy(row)

    async def put(self, brand: str, policy: Policy, *, now_ms: int) -> None:
        """Store the brand's policy; this node applies it at once, others within the TTL."""
        async with transaction(self._db) as db:
            row = await db.get(AttributionPolicyRow, brand)
            if row is None:
                row = AttributionPolicyRow(brand=brand)
                db.add(row)
            row.kind, row.window_s, row.protection_s = (
                policy.kind,
                policy.window_s,
                policy.protection_s,
            )
            row.extend_on_order = policy.extend_on_order
            row.new_customers_only = policy.new_customers_only
            row.updated_ms = now_ms
        self._generation += 1


def _policy(row: AttributionPolicyRow) -> Policy:
    return Policy(
        kind=row.kind,
        window_s=row.window_s,
        protection_s=row.protection_s,
        extend_on_order=row.extend_on_order,
        new_customers_only=row.new_customers_only,
    )
