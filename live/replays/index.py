"""An index of an ended session's durable archive for replays: checkpoints of the product
script, and the comments the host deleted.

Contract: `build` reads the durable segments once, one at a time, in ``seq`` order; it keeps the
folded `Script` after every `CHECKPOINT_SEGMENTS`-th segment and the ids named by
``comment_deleted`` events, never the events themselves. `ScriptIndex.state_at` answers the
script at an instant from the nearest checkpoint whose segments all lie at or before it, reading
only the few segments after it. `live.replay_indexes` caches indexes per process and
`live.stored_index` keeps them beside the archive.
"""

from dataclasses import dataclass

from live.product_script import SCRIPT_TYPES, Script
from realtime import protocol
from replay import window
from replay.manifest import Manifest
from replay.segments import DURABLE_KIND, Segment
from replay.store import ArchiveStore

CHECKPOINT_SEGMENTS = 4
#: Segments read concurrently while an index is built (S3 latency, not bandwidth, bounds it).
READ_AHEAD_SEGMENTS = 16
_DELETED = b'"comment_deleted"'


@dataclass(frozen=True, slots=True)
class ScriptIndex:
    """Checkpoints of a session's product script and its deleted comments."""

    manifest: Manifest
    durable: tuple[Segment, ...]
    #: ``reach[i]``: the latest ``t_ms`` of durable segments ``0..i``.
    reach: tuple[int, ...]
    checkpoints: dict[int, Script]
    deleted_comments: frozenset[str]

    async def state_at(self, store: ArchiveStore, t_ms: int) -> Script:
        """The script folded over every durable event with ``t_ms`` at or before ``t_ms``."""
        start, script = -1, Script()
        for position, saved in self.checkpoints.items():
            if position > start and self.reach[position] <= t_ms:
                start, script = position, saved
        script = script.copy()
        wanted = [s for s in self.durable[start + 1 :] if s.from_ms <= t_ms]
        reads = window.lines_in_order(store, wanted, ahead=len(wanted))
        try:
            async for lines in reads:
                for line in lines:
                    _fold_line(script, line, until_ms=t_ms)
        finally:
            await reads.aclose()
        return script


def _fold_line(script: Script, line: bytes, *, until_ms: int | None) -> None:
    try:
        kind = protocol.event_type(line)
    except ValueError:
        return
    if kind not in SCRIPT_TYPES:
        return
    event = window.parse(line)
    if event is not None and (until_ms is None or window.t_ms(event) <= until_ms):
        script.apply(event)


async def build(store: ArchiveStore, manifest: Manifest) -> ScriptIndex:
    """Read the durable segments once into an index (see the module doc)."""
    durable = tuple(s for s in manifest.segments if s.kind == DURABLE_KIND)
    script = Script()
    checkpoints: dict[int, Script] = {}
    deleted: set[str] = set()
    reach: list[int] = []
    reads = window.lines_in_order(store, durable, ahead=READ_AHEAD_SEGMENTS)
    try:
        for position, segment in enumerate(durable):
            for line in await anext(reads):
                if _DELETED in line:
                    event = window.parse(line)
                    if event is not None and event.get("type") == "comment_deleted":
                        deleted.add(str(event.get("comment_id")))
                        continue
                _fold_line(script, line, until_ms=None)
            reach.append(max(segment.to_ms, reach[-1] if reach else 0))
            if position % CHECKPOINT_SEGMENTS == CHECKPOINT_SEGMENTS - 1:
                checkpoints[position] = script.copy()
    finally:
        await reads.aclose()
    return ScriptIndex(manifest, durable, tuple(reach), checkpoints, frozenset(deleted))
