"""``/metrics``: the node's Prometheus text (summed over workers under `live serve --workers`),
and the sampler that copies the hub's, archiver's and dispatcher's figures into it."""

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from common import loops
from live.api import request as req
from live.context import Context
from live.db.unit import transaction
from live.platform import paced_upgrades
from live.platform.metrics import CONTENT_TYPE
from live.webhooks import deliveries

log = logging.getLogger(__name__)

#: How often each node copies its figures into the metrics (what another worker's figures in
#: a scrape may lag by).
SAMPLE_S = 1.0


def sample_now(ctx: Context) -> None:
    """Copy the figures the node keeps in memory into its metrics."""
    metrics, hub = ctx.metrics, ctx.hub
    metrics.sync_hub(hub.stats)
    metrics.rooms.set(len(hub.rooms))
    metrics.room_sockets.set(hub.sockets)
    metrics.skipped_now.set(sum(c.skipped for room in hub.rooms.values() for c in room.connections))
    metrics.archive_lag.set(sum(ctx.archiver.lag_events.values()))
    metrics.stock_broken.set(ctx.stock_watch.inconsistent)
    metrics.webhook_in_flight.set(ctx.webhooks.in_flight)
    metrics.sync_webhooks(ctx.webhooks.attempts)
    joins = ctx.joins
    metrics.sync_joins(
        held=paced_upgrades.pacer().waiting,
        waiting=joins.waiting,
        active=joins.active,
        refused=joins.refused,
    )
    metrics.sync_sold_out(ctx.sold_out.refused)


async def sample(ctx: Context) -> None:
    """`sample_now`, and the webhook backlog read from the record."""
    sample_now(ctx)
    async with transaction(ctx.db) as db:
        ctx.metrics.webhook_backlog.set(await deliveries.backlog(db))


async def run(ctx: Context) -> None:
    """Sample every `SAMPLE_S` until the node stops."""
    await loops.forever(
        lambda: sample(ctx),
        every_s=SAMPLE_S,
        doing="metrics sample",
        log=log,
        stopping=ctx.stopping,
    )


async def metrics(request: Request) -> Response:
    """The gauges, counters and histograms in the Prometheus text format."""
    ctx = req.context(request)
    sample_now(ctx)
    return Response(ctx.metrics.scrape(), media_type=CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
