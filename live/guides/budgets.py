"""Guide coupon budgets: how many nudge coupons a guide may send in a session and their total
value, the record's rows and their counters in Redis.

Contract: the record (``guide_budgets``, and the nudge coupons in ``coupons``) is the judge;
Redis holds the counters every node spends from. `spend` takes one coupon's count and value in
one Lua step (``lua/budget_spend.lua``), so concurrent nudges from any number of nodes never
spend past either cap; `give_back` returns a spend whose coupon could not be written. When
Redis has lost a budget, `spend` rebuilds it from the record (caps, and what the written nudge
coupons spent) before spending, as stock is rebuilt after a Redis loss.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code
from live.db.models import CouponRow, GuideBudgetRow
from live.db.unit import transaction

#: Budgets in Redis outlive any session: a week after they were last set.
TTL_S = 7 * 86_400


def key(session_id: str, guide_id: str) -> str:
    """Hash ``count_cap``, ``value_cap``, ``count_used``, ``value_used`` of one budget."""
    return f"live:{{{session_id}}}:budget:{guide_id}"


@cache
def _source(name: str) -> str:
    return resources.files("live.guides").joinpath("lua", f"{name}.lua").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Left:
    """What is left of a budget (``taken``: whether this spend took its share)."""

    taken: bool
    count_left: int
    value_left_cents: int


def view(row: GuideBudgetRow, count_left: int, value_left_cents: int) -> dict[str, Any]:
    """A budget as hosts and the guide see it."""
    return {
        "session_id": row.session_id,
        "guide_id": row.guide_id,
        "count": row.count,
        "value_cap_cents": row.value_cap_cents,
        "count_left": count_left,
        "value_left_cents": value_left_cents,
    }


async def spent(db: AsyncSession, session_id: str, guide_id: str) -> tuple[int, int]:
    """The nudge coupons the guide sent in the session, per the record: (count, value)."""
    count, value = (
        await db.execute(
            select(func.count(), func.coalesce(func.sum(CouponRow.value), 0)).where(
                CouponRow.session_id == session_id,
                CouponRow.guide_id == guide_id,
                CouponRow.viewer_id.is_not(None),
            )
        )
    ).one()
    return int(count), int(value)


class Budgets:
    """Budget counters of one Redis, over the record of one database."""

    def __init__(self, redis: Redis, db: async_sessionmaker[AsyncSession]) -> None:
        self._redis = redis
        self._db = db
        self._spend = redis.register_script(_source("budget_spend"))
        self._set = redis.register_script(_source("budget_set"))

    async def put(self, row: GuideBudgetRow) -> Left:
        """Set the counters' caps to the row's (what was spent stays)."""
        async with transaction(self._db) as db:
            count_used, value_used = await spent(db, row.session_id, row.guide_id)
        try:
            count_left, value_left = await self._set(
                keys=[key(row.session_id, row.guide_id)],
                args=[row.count, row.value_cap_cents, count_used, value_used, TTL_S],
            )
        except RedisError as exc:
            raise ClientError(Code.UNAVAILABLE, "budgets are unavailable; retry") from exc
        return Left(True, int(count_left), int(value_left))

    async def left(self, row: GuideBudgetRow) -> Left:
        """What is left of the budget (the record's caps, Redis's spending)."""
        try:
            used = await self._redis.hmget(
                key(row.session_id, row.guide_id), "count_used", "value_used"
            )
        except RedisError as exc:
            raise ClientError(Code.UNAVAILABLE, "budgets are unavailable; retry") from exc
        if used[0] is None:
            return await self.put(row)
        return Left(False, row.count - int(used[0]), row.value_cap_cents - int(used[1] or 0))

    async def spend(self, session_id: str, guide_id: str, value_cents: int) -> Left:
        """Take one coupon of ``value_cents`` from the guide's budget, or refuse."""
        for _ in range(2):
            try:
                taken, count_left, value_left = await self._spend(
                    keys=[key(session_id, guide_id)], args=[value_cents]
                )
            except RedisError as exc:
                raise ClientError(Code.UNAVAILABLE, "budgets are unavailable; retry") from exc
            if int(taken) >= 0:
                return Left(int(taken) == 1, int(count_left), int(value_left))
            async with transaction(self._db) as db:
                row = await db.get(GuideBudgetRow, (session_id, guide_id))
            if row is None:
                return Left(False, 0, 0)
            await self.put(row)
        raise ClientError(Code.UNAVAILABLE, "budgets are unavailable; retry")

    async def give_back(self, session_id: str, guide_id: str, value_cents: int) -> None:
        """Return one spend whose coupon was not written."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(key(session_id, guide_id), "count_used", -1)
                pipe.hincrby(key(session_id, guide_id), "value_used", -value_cents)
                await pipe.execute()
        except RedisError as exc:
            raise ClientError(Code.UNAVAILABLE, "budgets are unavailable; retry") from exc
