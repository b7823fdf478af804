"""Clips as records: cut once per product explained when the archive is complete, lined up with
the video by LIVE_CLIP_OFFSET_MS, and created or edited by hosts."""

import io
import tarfile

import orjson

from live.replays.index import index_name
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import ended_with_clips


async def _complete(server: LiveServer, session_id: str) -> None:
    """Wait until the archive is complete with its replay index (prepared in the background
    once the manifest is written), so that nothing is added while the test reads the store."""
    store = server.context.store

    async def prepared() -> bool:
        return await store.exists(index_name(session_id))

    await eventually(prepared)


async def test_clips_are_cut_once_offset_and_edited(server_with: ServerWith) -> None:
    """Two automatic clips titled after their products; a host adds one and edits another;
    reading again does not cut twice; times in the video are shifted by the offset."""
    node = await server_with(clip_offset_ms=1_500)
    session_id, clip_ids = await ended_with_clips(node)
    host = node.client(node.token("host", "host-1"))
    async with host:
        clips = (await host.get(f"/api/sessions/{session_id}/clips")).json()
        assert [(c["title"], c["source"]) for c in clips] == [
            ("Wool coat", "auto"),
            ("Scarf", "auto"),
        ]
        first = clips[0]
        assert first["video_from_ms"] == first["from_ms"] + 1_500
        assert first["to_ms"] > first["from_ms"]
        made = await host.post(
            f"/api/sessions/{session_id}/clips",
            json={
                "product_id": first["product_id"],
                "from_ms": 0,
                "to_ms": 1_000,
                "title": "Opening look",
            },
        )
        assert made.status_code == 201, made.text
        assert (made.json()["source"], made.json()["title"]) == ("host", "Opening look")
        edited = await host.patch(
            f"/api/sessions/{session_id}/clips/{clip_ids[1]}",
            json={"title": "Scarf, closer", "from_ms": 5},
        )
        assert edited.status_code == 200, edited.text
        assert (edited.json()["title"], edited.json()["from_ms"]) == ("Scarf, closer", 5)
        backwards = await host.patch(
            f"/api/sessions/{session_id}/clips/{clip_ids[1]}", json={"to_ms": 1}
        )
        assert backwards.json()["error"]["code"] == "invalid_request"
        again = (await host.get(f"/api/sessions/{session_id}/clips")).json()
        assert {c["clip_id"] for c in again} == {made.json()["clip_id"], *clip_ids}
        assert [c["from_ms"] for c in again] == sorted(c["from_ms"] for c in again)
        assert sorted(c["source"] for c in again) == ["auto", "auto", "host"]
    async with node.client(node.token("viewer", "v")) as viewer:
        refused = await viewer.post(
            f"/api/sessions/{session_id}/clips",
            json={"product_id": first["product_id"], "from_ms": 0, "to_ms": 10},
        )
        assert refused.json()["error"]["code"] == "forbidden"
    async with node.client(node.token("host", "h", brand="elsewhere")) as stranger:
        hidden = await stranger.patch(
            f"/api/sessions/{session_id}/clips/{clip_ids[0]}", json={"title": "x"}
        )
        assert hidden.status_code == 404


async def test_export_bundle_holds_the_whole_archive(server: LiveServer) -> None:
    """The tar has the manifest, every segment byte for byte, and the clips; admins only."""
    session_id, clip_ids = await ended_with_clips(server)
    await _complete(server, session_id)
    async with server.client(server.token("admin", "a")) as admin:
        exported = await admin.get(f"/api/sessions/{session_id}/archive/bundle")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(exported.content)) as tar:
        contents = {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
        }
    store = server.context.store
    stored = await store.list(f"sessions/{session_id}/")
    assert f"sessions/{session_id}/manifest.json" in stored
    for name in stored:
        assert contents[name] == await store.get(name)
    clips = orjson.loads(contents[f"sessions/{session_id}/clips.json"])
    assert [clip["clip_id"] for clip in clips] == clip_ids
    async with server.client(server.token("host", "h")) as host:
        refused = await host.get(f"/api/sessions/{session_id}/archive/bundle")
    assert refused.json()["error"]["code"] == "forbidden"


async def test_deleting_an_archive(server: LiveServer) -> None:
    """An admin deletes an ended session's archive: every object goes, replay, clips and
    export answer 410 archive_deleted, deleting again is harmless; hosts may not."""
    session_id, _ = await ended_with_clips(server)
    await _complete(server, session_id)
    store = server.context.store
    assert await store.list(f"sessions/{session_id}/")
    async with server.client(server.token("host", "h")) as host:
        refused = await host.delete(f"/api/sessions/{session_id}/archive")
        assert refused.json()["error"]["code"] == "forbidden"
    async with server.client(server.token("admin", "a")) as admin:
        deleted = await admin.delete(f"/api/sessions/{session_id}/archive")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["deleted_objects"] >= 2
        assert await store.list(f"sessions/{session_id}/") == []
        for path in ("replay", "clips", "archive/bundle"):
            gone = await admin.get(f"/api/sessions/{session_id}/{path}")
            assert (gone.status_code, gone.json()["error"]["code"]) == (410, "archive_deleted")
        again = await admin.delete(f"/api/sessions/{session_id}/archive")
        assert again.json()["deleted_objects"] == 0
        live = await admin.post("/api/sessions", json={"title": "still live"})
        early = await admin.delete(f"/api/sessions/{live.json()['id']}/archive")
        assert early.json()["error"]["code"] == "session_not_live"
