"""The outbox: events written in the same transaction as the change they report.

Contract: an event exists exactly when its change was committed (never lost: a process dying
after the commit leaves the row for any node's dispatcher; never invented: a rolled-back
change takes its event with it). ``order.reserved`` is the one exception to writing a row here:
a new order is its own outbox entry (``orders.webhook_pending``, set by its insert in the group
commit), turned into its event by `live.webhooks.fan_out.reserved_orders`, so the purchase
path pays nothing for it. Nothing here delivers: `live.webhooks.fan_out` turns events
into deliveries, `live.webhooks.dispatcher` sends them.
"""

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from common import codec
from live.db.models import WebhookEventRow
from live.platform import ids
from live.webhooks import events

_EVENTS = cast(Table, WebhookEventRow.__table__)
#: Built once: a Core insert skips the ORM's unit of work.
_INSERT = insert(_EVENTS)


def row(brand: str, kind: str, data: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """The columns of a new event."""
    assert kind in events.EVENT_TYPES, kind
    return {
        "id": ids.new_id("msg"),
        "brand": brand,
        "type": kind,
        "data": codec.encode(data).decode(),
        "created_ms": now_ms,
        "fanned_out": False,
    }


async def add(
    db: AsyncSession, brand: str, kind: str, data: dict[str, Any], *, now_ms: int
) -> None:
    """Write one event of ``brand`` in ``db``'s transaction."""
    await db.execute(_INSERT, [row(brand, kind, data, now_ms)])
