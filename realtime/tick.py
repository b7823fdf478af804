"""Coalescing a room's ephemeral traffic into one frame per tick.

Contract: between two ticks a room accumulates comments, stock levels, sell-outs, coupon
counts, purchases, likes and its viewer count; `drain` returns the batch for viewers and the
batch for hosts (lists of frame objects, each sent as one JSON array) and resets. A sell-out
(``sold_out``) goes out as it was published, with its ``seq``, after the stock levels.

Viewers get a sample: at most ``comments_per_tick`` comments, host and guide comments first,
then round-robin across authors so one loud viewer cannot fill it; identical short comments
("666") are merged into one item with a ``count``; the rest is counted in ``dropped``.
Hosts get every comment (up to `MAX_HOST_COMMENTS_PER_TICK`), with author ids, and room stats.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from common import codec

MAX_PURCHASES_PER_TICK = 10
#: Bounds a host frame under a flood; the archive still has every comment.
MAX_HOST_COMMENTS_PER_TICK = 1_000
#: Comments this short and identical are merged for viewers ("666 x42").
MERGE_MAX_CHARS = 8
PRIORITY_ROLES = frozenset({"host", "guide", "admin"})


@dataclass(slots=True)
class Drained:
    """The frames of one tick: for viewers and for hosts."""

    viewers: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[dict[str, Any]] = field(default_factory=list)


def _public(comment: dict[str, Any]) -> dict[str, Any]:
    # Viewers see who wrote a comment by display name, not by account id.
    return {k: v for k, v in comment.items() if k not in ("user_id", "role", "type")}


class RoomTick:
    """Ephemeral state of one room since the last tick."""

    def __init__(self, *, comments_per_tick: int) -> None:
        self._comments_per_tick = comments_per_tick
        #: Highest change version seen per counter (``stock:<product>``, ``coupon:<id>``),
        #: kept across ticks: changes finish in any order, and a late one must not undo a
        #: newer count.
        self._versions: dict[str, int] = {}
        self._reset()

    def _reset(self) -> None:
        self._ordinary: list[dict[str, Any]] = []
        self._priority: list[dict[str, Any]] = []
        self._comment_count = 0
        self._host_comments: list[dict[str, Any]] = []
        self._host_dropped = 0
        self._levels: dict[str, int] = {}
        self._coupons_left: dict[str, int] = {}
        self._purchases: list[dict[str, Any]] = []
        self._sell_outs: list[dict[str, Any]] = []
        self._purchase_count = 0
        self._viewers: int | None = None
        self._likes: int | None = None

    def add_comment(self, frame: bytes) -> None:
        """Queue a stored comment frame for sampling (and for the hosts' full stream)."""
        comment: dict[str, Any] = codec.decode(frame)
        comment.pop("type", None)
        self._comment_count += 1
        if len(self._host_comments) < MAX_HOST_COMMENTS_PER_TICK:
            self._host_comments.append(comment)
        else:
            self._host_dropped += 1
        if comment.get("role") in PRIORITY_ROLES:
            self._priority.append(comment)
        elif len(self._ordinary) < MAX_HOST_COMMENTS_PER_TICK:
            self._ordinary.append(comment)

    def add_event(self, event_type: str, frame: bytes) -> None:
        """Fold a coalesced durable event (stock, sold_out, coupon_left, purchase) into the
        tick."""
        event: dict[str, Any] = codec.decode(frame)
        version = int(event.get("version", 0))
        if event_type == "stock":
            for product_id, level in event.get("levels", {}).items():
                if self._is_newest(f"stock:{product_id}", version):
                    self._levels[product_id] = level
        elif event_type == "coupon_left":
            coupon_id = str(event["coupon_id"])
            if self._is_newest(f"coupon:{coupon_id}", version):
                self._coupons_left[coupon_id] = int(event["left"])
        elif event_type == "sold_out":
            self._sell_outs.append(event)
        elif event_type == "purchase":
            self._purchase_count += 1
            if len(self._purchases) < MAX_PURCHASES_PER_TICK:
                self._purchases.append(
                    {k: event[k] for k in ("product_id", "user", "qty") if k in event}
                )

    def _is_newest(self, counter: str, version: int) -> bool:
        """Whether a change with ``version`` is newer than any seen for ``counter``.

        Unversioned changes (version 0) always count.
        """
        if version == 0:
            return True
        if version <= self._versions.get(counter, 0):
            return False
        self._versions[counter] = version
        return True

    def set_viewers(self, count: int) -> None:
        """Announce the room's viewer count in the next tick."""
        self._viewers = count

    def set_likes(self, total: int) -> None:
        """Announce the session's like total in the next tick."""
        self._likes = total

    def _sample(self) -> list[dict[str, Any]]:
        """Priority comments, then round-robin over authors; identical short texts are one
        unit of their own with a ``count``, so a "666" wave takes one slot, not the sample."""
        queues: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        counts: dict[str, int] = {}
        for comment in self._ordinary:
            text = str(comment.get("text", ""))
            if len(text) <= MERGE_MAX_CHARS:
                counts[text] = counts.get(text, 0) + 1
                if counts[text] == 1:
                    queues[f"text:{text}"] = [comment]
            else:
                queues.setdefault(f"user:{comment.get('user_id', '')}", []).append(comment)
        picked = [_public(c) for c in self._priority[: self._comments_per_tick]]
        pending = list(queues.values())
        while len(picked) < self._comments_per_tick and any(pending):
            for queue in pending:
                if queue and len(picked) < self._comments_per_tick:
                    comment = queue.pop(0)
                    item = _public(comment)
                    count = counts.get(str(comment.get("text", "")), 1)
                    if count > 1 and len(str(comment.get("text", ""))) <= MERGE_MAX_CHARS:
                        item["count"] = count
                    picked.append(item)
        picked.sort(key=lambda c: int(c.get("id", 0)))
        return picked

    def drain(self) -> Drained:
        """The frames of this tick (possibly none), and a fresh start."""
        out = Drained()
        shown = 0
        if self._comment_count:
            items = self._sample()
            shown = sum(int(item.get("count", 1)) for item in items)
            dropped = max(0, self._comment_count - shown)
            out.viewers.append({"type": "comments", "items": items, "dropped": dropped})
            out.hosts.append(
                {"type": "comments", "items": self._host_comments, "dropped": self._host_dropped}
            )
        shared: list[dict[str, Any]] = []
        if self._levels:
            shared.append({"type": "stock", "levels": self._levels})
        shared.extend(self._sell_outs)
        for coupon_id, left in self._coupons_left.items():
            shared.append({"type": "coupon_left", "coupon_id": coupon_id, "left": left})
        shared.extend({"type": "purchase", **purchase} for purchase in self._purchases)
        if self._viewers is not None:
            shared.append({"type": "viewers", "count": self._viewers})
        if self._likes is not None:
            shared.append({"type": "likes", "total": self._likes})
        out.viewers.extend(shared)
        out.hosts.extend(shared)
        if self._comment_count or self._purchase_count:
            stats = {
                "type": "stats",
                "comments": self._comment_count,
                "comments_shown": shown,
                "purchases": self._purchase_count,
            }
            out.hosts.append(stats)
        self._reset()
        return out
