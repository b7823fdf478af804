"""Garbage collection for a process that holds thousands of long-lived sockets.

CPython 3.11's cyclic collector stops the world, and a full (generation 2) pass walks every
tracked object: about 250 per connected viewer. Under a 1,000 comments/s flood the young
objects that survive push full passes every few seconds; with 2,000 viewers each took
200-400 ms and the p99 of every traffic class was 0.9-2.7 s; with 10,000 they take seconds
(docs/benchmarks.md, "Room load").

What survives a second is nearly always a viewer's socket machinery, which lives as long as the
viewer. `gc.freeze()` once a second moves everything tracked into a generation the collector
skips (a constant-time list splice), so collections only walk what is younger than a second.
Reference counting still frees a frozen object the moment nothing refers to it; what freezing
postpones is reclaiming *cycles* among frozen objects (a departed viewer's task and protocol
references). A sweep every ``sweep_every_s`` unfreezes and collects once: one pause in
proportion to the heap, on a schedule, instead of pauses at random several times a minute.
"""

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


def sweep() -> tuple[int, float]:
    """Unfreeze, collect every generation, freeze what is left: ``(collected, seconds)``."""
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    return collected, time.perf_counter() - started


async def run(*, freeze_every_s: float, sweep_every_s: float) -> None:
    """Freeze survivors every ``freeze_every_s`` (0: leave the collector alone) and sweep every
    ``sweep_every_s`` (0: never; cycles among long-lived objects then wait for a restart)."""
    if freeze_every_s <= 0:
        return
    last_sweep = time.monotonic()
    gc.freeze()  # what start-up built: modules, the app, the engines' clients
    while True:
        await asyncio.sleep(freeze_every_s)
        if sweep_every_s > 0 and time.monotonic() - last_sweep >= sweep_every_s:
            collected, took = sweep()
            last_sweep = time.monotonic()
            log.info("gc sweep: %d objects collected in %.0f ms", collected, took * 1000)
        else:
            gc.freeze()
