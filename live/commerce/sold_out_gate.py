"""The node's memory of products Redis just refused as sold out: a buy's first attempt at one
of them is refused here, at the price of a frame, without a reserve call.

Contract: `refuses` says True only for what the reserve script would refuse with ``sold_out``
at that moment, give or take a unit that came back less than `HOLD_S` ago:

- it is armed only by a reserve that Redis refused with ``sold_out`` (never by the recorded
  answer of a repeated key), for that product, at the terms version that reserve was checked
  against and for at least the quantity it asked;
- it answers only for a key sent for the first time (the client says so, `OrderRequest`): such
  a key has no recorded outcome, so the script's first check (a repeated key) cannot apply and
  its next ones are the terms version and the units free for a new order;
- it forgets a product when a stock event tells of units back (`heard_stock`, fed by the rooms
  of this node), when the terms it was armed at are no longer the node's, and `HOLD_S` after it
  was armed in any case. A stock event whose change version (`inventory.keys.version`) is not
  above the one the refusal was decided at tells of a change the refusal already counted: it
  is ignored. In a flash sale the rooms read the stock events of the last orders, units left
  in each, after the sell-out; each of them opened the gate again, and hundreds of first
  attempts went to Redis while the room's tick held the loop (docs/benchmarks.md);
- it refuses only while a room of the session on this node has been reading the session's
  events since before it was armed, so that every stock event published after the refusal
  reaches `heard_stock` (a room that opened later started reading after them).

What it can hide is a unit that came back in the moment before its event was read (a few
milliseconds on one Redis), and for at most `HOLD_S`: a change while the bus is out, or one no
event tells of (a waiting viewer leaving the line frees the unit kept for them). One reserve a
product per `HOLD_S` on each node learns it again.

Nothing here ever takes stock: a wrong answer could only be a refusal, and a refusal it gives
is not recorded under the key, so a retry of that key asks Redis.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: How long a refusal from Redis stands for the node (seconds; ``LIVE_SOLD_OUT_HOLD_S``).
HOLD_S = 1.0
#: Products remembered at most; past it, the lapsed ones are dropped when another is armed.
MAX_ARMED = 10_000


@dataclass(frozen=True, slots=True)
class _Armed:
    at: float
    terms_version: int
    #: The smallest quantity Redis refused: a larger one is refused too.
    qty: int
    until: float
    #: The session's change version ``qty`` was refused at (0: unknown, every event counts).
    version: int


class SoldOutGate:
    """Products of this node's sessions that Redis refused as sold out, for `HOLD_S`."""

    def __init__(
        self, listening_since: Callable[[str], float | None], *, hold_s: float = HOLD_S
    ) -> None:
        #: Since when (`time.monotonic`) a room of the session has read its events on this node;
        #: None while it has no room here.
        self._listening_since = listening_since
        self._hold_s = hold_s
        self._armed: dict[tuple[str, str], _Armed] = {}
        #: First attempts refused here (``live_sold_out_refusals_total``).
        self.refused = 0

    def arm(
        self,
        session_id: str,
        product_id: str,
        *,
        terms_version: int,
        qty: int,
        asked: float,
        version: int | None = None,
    ) -> None:
        """Remember that Redis refused ``qty`` units of the product as sold out, to a reserve
        sent at ``asked`` (`time.monotonic`): Redis decided after that, at the session's change
        ``version`` (None: unknown)."""
        if self._hold_s <= 0:
            return
        key, now = (session_id, product_id), time.monotonic()
        seen = version or 0
        armed = self._armed.get(key)
        if armed is not None and armed.terms_version == terms_version and now < armed.until:
            # What is kept must hold at its version: the smaller quantity was refused at its
            # own version, not necessarily at the other's (a unit may have come back between).
            if qty > armed.qty:
                seen = armed.version
            elif qty == armed.qty:
                seen = max(seen, armed.version)
            qty = min(qty, armed.qty)
        elif armed is None and len(self._armed) >= MAX_ARMED:
            for lapsed in [k for k, a in self._armed.items() if now >= a.until]:
                del self._armed[lapsed]
        self._armed[key] = _Armed(asked, terms_version, qty, asked + self._hold_s, seen)

    def refuses(self, session_id: str, product_id: str, *, terms_version: int, qty: int) -> bool:
        """Whether a first attempt at ``qty`` units is answered ``sold_out`` without Redis."""
        key = (session_id, product_id)
        armed = self._armed.get(key)
        if armed is None:
            return False
        if armed.terms_version != terms_version or time.monotonic() >= armed.until:
            del self._armed[key]
            return False
        if qty < armed.qty:
            return False
        since = self._listening_since(session_id)
        if since is None or since > armed.at:
            return False
        self.refused += 1
        return True

    def heard_stock(self, session_id: str, event: dict[str, Any]) -> None:
        """A ``stock`` event of the session reached this node: forget every product it tells
        has units (a hold lapsed, an order was cancelled, the host added stock), unless the
        refusal was decided after that change."""
        levels = event.get("levels")
        if not isinstance(levels, dict):
            return
        version = event.get("version")
        for product_id, level in levels.items():
            if not isinstance(level, int) or level <= 0:
                continue
            key = (session_id, str(product_id))
            armed = self._armed.get(key)
            if armed is None:
                continue
            if isinstance(version, int) and armed.version > 0 and version <= armed.version:
                continue
            del self._armed[key]

    def __len__(self) -> int:
        return len(self._armed)
