"""A guide's desk: "my viewers now" of one guide in one session, kept by deltas, sans I/O.

Contract: `Desk.apply` takes one workspace delta (a viewer of the guide arrived or left, a pin,
a hold and its end, a waitlist join or leave, a question, a budget) and only marks what it
changed; `Desk.frame` drains those marks into one ``workspace`` frame (the full state after
`Desk.load`, else the viewers that changed, those gone and the products pinned meanwhile) or
None when nothing changed. A delta costs O(1), a frame the viewers it lists; nothing here ever
looks at the rest of the room.

Pinned while watching: the products pinned from the moment the viewer arrived (the one pinned
then included), in pin order. Holds: the guide's orders of the viewer not paid, reserved
(with ``expires_ms``) or expired; paid and cancelled ones leave the list.
"""

from dataclasses import dataclass, field
from typing import Any

RESERVED, EXPIRED = "reserved", "expired"
#: Hold statuses shown; any other status of an order takes it off the desk.
SHOWN_HOLDS = frozenset({RESERVED, EXPIRED})


@dataclass(slots=True)
class Watcher:
    """A viewer of the guide in the room now."""

    viewer_id: str
    name: str
    since_ms: int
    #: Time watched in earlier visits of this session.
    watched_ms: int = 0


@dataclass(slots=True)
class Loaded:
    """A desk's state as the engines hold it when the guide opens the workspace."""

    present: list[Watcher] = field(default_factory=list)
    pins: list[tuple[int, str | None]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    waitlist: list[tuple[str, str]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, Any] | None = None


class Desk:
    """One guide's viewers now in one session."""

    def __init__(self, session_id: str, guide_id: str) -> None:
        self.session_id = session_id
        self.guide_id = guide_id
        self.present: dict[str, Watcher] = {}
        #: viewer -> order id -> hold (kept for viewers away too: they may come back).
        self.holds: dict[str, dict[str, dict[str, Any]]] = {}
        self.waitlist: dict[str, set[str]] = {}
        #: ``(ts, product_id)`` in time order; None is an unpin.
        self.pins: list[tuple[int, str | None]] = []
        self.questions: dict[str, dict[str, Any]] = {}
        self.budget: dict[str, Any] | None = None
        self._changed: set[str] = set()
        self._gone: set[str] = set()
        self._new_pins: list[str] = []
        self._full = False
        self._extras = False
        #: Viewers who left while the desk was loading: the load must not bring them back.
        self._left_while_loading: set[str] = set()
        self.loading = True

    # --- deltas -------------------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> None:
        """Apply one delta (a ``workspace`` control message)."""
        op = message.get("op")
        viewer_id = str(message.get("viewer_id", ""))
        if op == "arrived":
            self._arrive(
                Watcher(
                    viewer_id,
                    str(message.get("name") or viewer_id),
                    int(message["since_ms"]),
                    int(message.get("watched_ms", 0)),
                )
            )
        elif op == "left":
            self._leave(viewer_id)
        elif op == "pin":
            self._pin(int(message["ts"]), message.get("product_id"))
        elif op == "hold":
            self._hold(viewer_id, message)
        elif op == "waitlist":
            self._waitlist(viewer_id, str(message["product_id"]), bool(message["waiting"]))
        elif op == "question":
            question = message["question"]
            self.questions[question["question_id"]] = question
            self._extras = True
        elif op == "answered":
            if self.questions.pop(str(message["question_id"]), None) is not None:
                self._extras = True
        elif op == "budget":
            self.budget = message["budget"]
            self._extras = True

    def _arrive(self, watcher: Watcher) -> None:
        self.present[watcher.viewer_id] = watcher
        self._left_while_loading.discard(watcher.viewer_id)
        self._gone.discard(watcher.viewer_id)
        self._changed.add(watcher.viewer_id)

    def _leave(self, viewer_id: str) -> None:
        if self.loading:
            self._left_while_loading.add(viewer_id)
        if self.present.pop(viewer_id, None) is not None:
            self._changed.discard(viewer_id)
            self._gone.add(viewer_id)

    def _pin(self, ts: int, product_id: Any) -> None:
        self.pins.append((ts, None if product_id is None else str(product_id)))
        self.pins.sort(key=lambda pin: pin[0])
        # One field for the whole desk, not an entry per viewer: the workspace adds it to the
        # viewers the frame does not list (a pin a second would otherwise re-send them all).
        if product_id is not None:
            self._new_pins.append(str(product_id))

    def _hold(self, viewer_id: str, message: dict[str, Any]) -> None:
        order_id = str(message["order_id"])
        held = self.holds.setdefault(viewer_id, {})
        if message.get("status") in SHOWN_HOLDS:
            earlier = held.get(order_id, {})
            held[order_id] = {
                "order_id": order_id,
                "product_id": message.get("product_id", earlier.get("product_id")),
                "qty": message.get("qty", earlier.get("qty", 1)),
                "status": message["status"],
                "expires_ms": message.get("expires_ms", earlier.get("expires_ms")),
            }
        else:
            held.pop(order_id, None)
        if viewer_id in self.present:
            self._changed.add(viewer_id)

    def _waitlist(self, viewer_id: str, product_id: str, waiting: bool) -> None:
        products = self.waitlist.setdefault(viewer_id, set())
        if waiting:
            products.add(product_id)
        else:
            products.discard(product_id)
        if viewer_id in self.present:
            self._changed.add(viewer_id)

    def load(self, loaded: Loaded) -> None:
        """Merge the state read when the desk opened under the deltas applied meanwhile."""
        for watcher in loaded.present:
            if watcher.viewer_id not in self._left_while_loading:
                self.present.setdefault(watcher.viewer_id, watcher)
        self.pins = sorted(set(self.pins) | set(loaded.pins), key=lambda pin: pin[0])
        for hold in loaded.holds:
            self.holds.setdefault(hold["viewer_id"], {}).setdefault(hold["order_id"], hold)
        for viewer_id, product_id in loaded.waitlist:
            self.waitlist.setdefault(viewer_id, set()).add(product_id)
        for question in loaded.questions:
            self.questions.setdefault(question["question_id"], question)
        if self.budget is None:
            self.budget = loaded.budget
        self.loading = False
        self._left_while_loading.clear()
        self._full = True

    def reopen(self) -> None:
        """A new socket of the guide: it gets the full state at the next push."""
        self._full = True

    # --- frames -------------------------------------------------------------------------

    def pinned_since(self, since_ms: int) -> list[str]:
        """Products pinned while a viewer who arrived at ``since_ms`` watched, in pin order."""
        current: str | None = None
        shown: list[str] = []
        for ts, product_id in self.pins:
            if ts <= since_ms:
                current = product_id
                continue
            if current is not None and not shown:
                shown.append(current)
            if product_id is not None and product_id not in shown:
                shown.append(product_id)
        if current is not None and not shown:
            shown.append(current)
        return shown

    def entry(self, watcher: Watcher) -> dict[str, Any]:
        """One viewer as the workspace shows it."""
        holds = self.holds.get(watcher.viewer_id, {})
        return {
            "viewer_id": watcher.viewer_id,
            "name": watcher.name,
            "since_ms": watcher.since_ms,
            "watched_ms": watcher.watched_ms,
            "pinned": self.pinned_since(watcher.since_ms),
            "holds": sorted(holds.values(), key=lambda h: str(h["order_id"])),
            "waitlist": sorted(self.waitlist.get(watcher.viewer_id, ())),
        }

    @property
    def dirty(self) -> bool:
        """Whether the next `frame` has anything to say."""
        return (
            self._full
            or self._extras
            or bool(self._changed)
            or bool(self._gone)
            or bool(self._new_pins)
        )

    def frame(self, now_ms: int) -> dict[str, Any] | None:
        """The ``workspace`` frame of what changed since the last one (None: nothing)."""
        if self.loading or not self.dirty:
            return None
        full = self._full
        shown = self.present if full else {v: self.present[v] for v in self._changed}
        frame: dict[str, Any] = {
            "type": "workspace",
            "session_id": self.session_id,
            "guide_id": self.guide_id,
            "full": full,
            "viewers": [self.entry(w) for w in sorted(shown.values(), key=lambda w: w.since_ms)],
            "gone": [] if full else sorted(self._gone),
            "ts": now_ms,
        }
        if self._new_pins and not full:
            frame["pins"] = list(dict.fromkeys(self._new_pins))
        if full or self._extras:
            frame["questions"] = sorted(self.questions.values(), key=lambda q: q["asked_ms"])
            frame["budget"] = self.budget
        self._changed.clear()
        self._gone.clear()
        self._new_pins.clear()
        self._full = self._extras = False
        return frame
