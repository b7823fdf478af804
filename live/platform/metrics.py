"""The node's Prometheus metrics, and what ``/metrics`` answers.

Contract: one registry per node (tests run several nodes in one process). With
``PROMETHEUS_MULTIPROC_DIR`` set (`live serve --workers N` sets it for its workers), every
worker writes its values to files there and a scrape of any worker answers the sum over all
workers (counters and histograms summed; per-worker gauges summed, node-wide gauges the
largest); otherwise the scrape answers this process's own registry. Counters the hub keeps as
plain integers (`realtime.stats.HubStats`) are copied here by `sync_hub` (every second, and
before each scrape): another worker's figures in a scrape are at most that old.
"""

from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from live.platform.request_metrics import RequestMetrics
from realtime import stats

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Counters without their ``*_created`` timestamps, as /metrics answered before this module:
# nothing of ours reads them, and they double the lines of every counter.
disable_created_metrics()  # type: ignore[no-untyped-call]


class ForwardingHistogram(stats.Histogram):
    """The hub's tick lag histogram, observed into a Prometheus histogram as well."""

    def __init__(self, bounds: tuple[float, ...], into: Histogram) -> None:
        super().__init__(bounds)
        self._into = into

    def observe(self, value: float) -> None:
        """Count ``value`` here and in Prometheus."""
        super().observe(value)
        self._into.observe(value)


class NodeMetrics:
    """Every metric of a node beside the HTTP ones (which `RequestMetrics` keeps)."""

    def __init__(self, http: RequestMetrics, *, multiprocess_dir: Path | None) -> None:
        self.http = http
        self.multiprocess_dir = multiprocess_dir
        registry = http.registry
        self.rooms = Gauge(
            "live_rooms",
            "Rooms with at least one socket on this node.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.room_sockets = Gauge(
            "live_room_sockets",
            "Room sockets open on this node.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.skipped_now = Gauge(
            "live_ephemeral_frames_skipped",
            "Frames skipped for slow viewers now connected.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._hub_counters = {
            "frames_sent": Counter(
                "live_frames_sent", "Frames written to room sockets.", registry=registry
            ),
            "frames_queued": Counter(
                "live_frames_queued",
                "Of the frames sent, those that waited for the socket's writer task (paused peer).",
                registry=registry,
            ),
            "frames_skipped": Counter(
                "live_frames_dropped",
                "Ephemeral frames skipped for viewers above the soft backlog limit.",
                registry=registry,
            ),
            "slow_closes": Counter(
                "live_slow_viewers_closed",
                "Viewers closed with 4100 above the hard backlog limit.",
                registry=registry,
            ),
            "ticks_held": Counter(
                "live_ticks_held",
                "Room ticks held back while orders were being written (at most 0.3 s each).",
                registry=registry,
            ),
        }
        self._synced = dict.fromkeys(self._hub_counters, 0)
        self.tick_lag = Histogram(
            "live_tick_lag_seconds",
            "How late each room tick ran after its due time.",
            buckets=stats.TICK_LAG_BOUNDS_S,
            registry=registry,
        )
        self.archive_lag = Gauge(
            "live_archive_lag_events",
            "Events numbered but not yet in the archive store, in sessions this node archives,"
            " at each session's last completed pass.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.stock_broken = Gauge(
            "live_stock_invariant_broken",
            "Products whose Redis stock + held + sold differs from their allocation at the last"
            " periodic check.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.webhook_backlog = Gauge(
            "live_webhook_backlog",
            "Webhook events not fanned out yet plus deliveries pending, over every brand.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.webhook_in_flight = Gauge(
            "live_webhook_in_flight",
            "Webhook deliveries being sent by this node.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.webhook_attempts = Counter(
            "live_webhook_attempts",
            "Webhook attempts by outcome (delivered, failed and retried, dead).",
            ["outcome"],
            registry=registry,
        )
        self._attempts_synced: dict[str, int] = {}
        self.joins_waiting = Gauge(
            "live_joins_waiting",
            "Room sockets waiting for a turn to join.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.joins_active = Gauge(
            "live_joins_active",
            "Room sockets joining now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.joins_held = Gauge(
            "live_joins_held",
            "Room sockets whose upgrade waits for room in the join queue (or its turn to start).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.joins_refused = Counter(
            "live_joins_refused",
            "Joins refused with busy (4103) because the join queue was full.",
            registry=registry,
        )
        self._refused_synced = 0
        self.sold_out_refusals = Counter(
            "live_sold_out_refusals",
            "Buys refused sold_out by the node's sold-out gate, without a reserve in Redis.",
            registry=registry,
        )
        self._sold_out_synced = 0

    def tick_lag_histogram(self) -> ForwardingHistogram:
        """The histogram the hub observes its tick lag in."""
        return ForwardingHistogram(stats.TICK_LAG_BOUNDS_S, self.tick_lag)

    def sync_hub(self, hub_stats: stats.HubStats) -> None:
        """Add what the hub's counters grew by since the last sync."""
        for name, counter in self._hub_counters.items():
            now = int(getattr(hub_stats, name))
            if now > self._synced[name]:
                counter.inc(now - self._synced[name])
                self._synced[name] = now

    def sync_joins(self, *, held: int, waiting: int, active: int, refused: int) -> None:
        """The join gate's figures (`realtime.admission.JoinGate`) and the upgrades held before
        it (`live.platform.paced_upgrades`): three gauges and the growth of the gate's refusals
        since the last sync."""
        self.joins_held.set(held)
        self.joins_waiting.set(waiting)
        self.joins_active.set(active)
        if refused > self._refused_synced:
            self.joins_refused.inc(refused - self._refused_synced)
            self._refused_synced = refused

    def sync_sold_out(self, refused: int) -> None:
        """Add what the sold-out gate's refusals grew by since the last sync."""
        if refused > self._sold_out_synced:
            self.sold_out_refusals.inc(refused - self._sold_out_synced)
            self._sold_out_synced = refused

    def sync_webhooks(self, attempts: dict[str, int]) -> None:
        """Add what the dispatcher's attempt counts grew by since the last sync."""
        for outcome, now in attempts.items():
            before = self._attempts_synced.get(outcome, 0)
            if now > before:
                self.webhook_attempts.labels(outcome).inc(now - before)
                self._attempts_synced[outcome] = now

    def scrape(self) -> bytes:
        """The Prometheus text of this node (of every worker, in multiprocess mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.http.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)
