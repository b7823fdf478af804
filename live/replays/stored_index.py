"""Replay indexes stored beside the archive, so that only the first replay of a session ever
pays for reading every durable segment.

Contract: the index of a session is a pure function of its (write-once) archive, so it is
stored once with `ArchiveStore.put_once` under ``sessions/<id>/replay-index-v1.json`` with
deterministic bytes; any node reading it later gets the same index with one read. A stored
index that does not match the manifest (another format, a damaged object) is ignored and the
index built again; a store that cannot take it only costs the next node the same build.
Deleting the session's archive deletes it with the segments (same prefix).
"""

import hashlib
import logging

import orjson

from live.product_script import Script
from live.script_index import ScriptIndex, build
from replay.errors import ArchiveConflict, ArchiveNotFound, ArchiveUnavailable
from replay.manifest import Manifest
from replay.segments import DURABLE_KIND
from replay.store import ArchiveStore

log = logging.getLogger(__name__)

FORMAT = "replay-index-v1"


def index_name(session_id: str) -> str:
    """Object name of a session's stored replay index."""
    return f"sessions/{session_id}/{FORMAT}.json"


def encode(index: ScriptIndex) -> bytes:
    """Deterministic bytes of ``index`` (the same index always gives the same bytes)."""
    document = {
        "format": FORMAT,
        "manifest_sha256": _fingerprint(index.manifest),
        "reach": list(index.reach),
        "checkpoints": {str(p): script.to_json() for p, script in index.checkpoints.items()},
        "deleted_comments": sorted(index.deleted_comments),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def decode(manifest: Manifest, data: bytes) -> ScriptIndex | None:
    """The index stored as ``data`` for ``manifest``; None when it is not one for it."""
    try:
        document = orjson.loads(data)
        if document["format"] != FORMAT or document["manifest_sha256"] != _fingerprint(manifest):
            return None
        durable = tuple(s for s in manifest.segments if s.kind == DURABLE_KIND)
        reach = tuple(int(t) for t in document["reach"])
        if len(reach) != len(durable):
            return None
        checkpoints = {
            int(p): Script.from_json(script) for p, script in document["checkpoints"].items()
        }
        deleted = frozenset(str(c) for c in document["deleted_comments"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return ScriptIndex(manifest, durable, reach, checkpoints, deleted)


async def load_or_build(store: ArchiveStore, manifest: Manifest) -> ScriptIndex:
    """The stored index of the manifest's session, or a new one (then stored)."""
    name = index_name(manifest.session_id)
    try:
        stored = decode(manifest, await store.get(name))
    except ArchiveNotFound:
        stored = None
    if stored is not None:
        return stored
    index = await build(store, manifest)
    try:
        await store.put_once(name, encode(index))
    except (ArchiveConflict, ArchiveUnavailable) as exc:
        log.warning("replay index of %s not stored: %s", manifest.session_id, exc)
    return index


def _fingerprint(manifest: Manifest) -> str:
    return hashlib.sha256(manifest.to_bytes()).hexdigest()
