"""Questions to a viewer's own guide: routed to that guide only (never another guide or
brand), answered privately and archived; unclaimed ones go to the host with answer figures."""

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from live.guides import desks, workspace_feed
from live.guides.question_records import guide_figures, is_question, percentile
from realtime import keys
from tests.live.guides.workspace_world import viewer_through, workspace
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two nodes over the same engines: viewers on A, guides on B."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes[0], nodes[1]


def test_the_question_rule() -> None:
    """Asked with "ask my guide", ending in ? or its full-width form, or with 吗/多少/怎么."""
    assert is_question("anything", asked=True)
    assert is_question("does it come in blue? ", asked=False)
    assert is_question("有蓝色的\uff1f", asked=False)
    assert is_question("这件多少钱", asked=False)
    assert is_question("有货吗", asked=False)
    assert is_question("怎么搭配", asked=False)
    assert not is_question("love it!", asked=False)
    assert not is_question("what? no way, great", asked=False)


def test_answer_figures_use_nearest_rank() -> None:
    """Median and 90th percentile answer times per guide, by nearest rank."""
    assert percentile([], 0.5) is None
    assert percentile([10, 20, 30, 40], 0.5) == 20
    assert percentile(list(range(1, 11)), 0.9) == 9


def _questions(room: Room) -> list[dict[str, Any]]:
    return [q for f in room.frames if f.get("type") == "workspace" for q in f.get("questions", [])]


async def test_question_reaches_only_the_bound_guide_and_answer_only_the_asker(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A viewer on A asks; their guide's desk on B gets it (not another guide's, not the host's
    panel); the guide's answer reaches the asker alone as a private frame and is archived."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    desk_g = await workspace(b, sid, "guide-g")
    desk_h = await workspace(b, sid, "guide-h")
    host = await Room.join(a.ws_url(sid, opened.host_token))
    await host.wait_type("snapshot")
    asker = await viewer_through(a, b, sid, "guide-g", "v1")
    neighbour = await viewer_through(a, b, sid, "guide-g", "v2")
    await asker.send({"type": "comment", "text": "does it shrink", "ask": True, "ref": "q"})
    ack = await asker.wait_for(lambda f: f.get("type") == "ack" and f.get("ref") == "q")
    assert ack["routed_to"] == "guide"
    question_id = ack["question_id"]
    frame = await desk_g.wait_for(
        lambda f: (
            f.get("type") == "workspace"
            and any(q["question_id"] == question_id for q in f.get("questions", []))
        )
    )
    question = next(q for q in frame["questions"] if q["question_id"] == question_id)
    assert question["viewer_id"] == "v1"
    assert question["text"] == "does it shrink"
    async with b.client(b.token("guide", "guide-h")) as other_guide:
        stolen = await other_guide.post(
            f"/api/sessions/{sid}/questions/{question_id}/answer", json={"text": "no"}
        )
    assert stolen.status_code == 404
    async with b.client(b.token("guide", "guide-g", name="Gina")) as guide:
        answered = await guide.post(
            f"/api/sessions/{sid}/questions/{question_id}/answer",
            json={"text": "Not at 30 degrees"},
        )
        assert answered.status_code == 200, answered.text
        again = await guide.post(
            f"/api/sessions/{sid}/questions/{question_id}/answer", json={"text": "again"}
        )
        assert again.status_code == 409
    private = await asker.wait_for(lambda f: f.get("type") == "private")
    assert private["kind"] == "answer"
    assert private["text"] == "Not at 30 degrees"
    assert private["question"] == "does it shrink"
    assert private["from"] == "Gina"
    await desk_g.wait_for(lambda f: f.get("type") == "workspace" and f.get("questions") == [])
    # The asker's neighbour and the room saw nothing of it; the archive has the answer.
    await neighbour.send({"type": "ping", "ref": "p"})
    await neighbour.wait_type("pong")
    assert not [f for f in neighbour.frames if f.get("type") == "private"]
    assert not [f for f in host.frames if f.get("type") == "question"]
    assert all(q["question_id"] != question_id for q in _questions(desk_h))
    entries: list[Any] = list(await a.context.redis.xrange(keys.events_stream(sid)) or [])
    archived = [
        fields[b"e"] for _, fields in entries if b'"type":"question_answer"' in fields[b"e"]
    ]
    assert len(archived) == 1
    assert b"Not at 30 degrees" in archived[0]
    for room in (desk_g, desk_h, host, asker, neighbour):
        await room.close()


async def test_rule_matched_comment_is_published_and_routed(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A bound viewer's comment ending in ? is a room comment and a question to their guide;
    the same from a viewer with no guide stays a comment only."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    desk = await workspace(b, sid, "guide-g")
    bound = await viewer_through(a, b, sid, "guide-g", "v1")
    walk_in = await Room.join(a.ws_url(sid, a.token("viewer", "walk-in")))
    await walk_in.wait_type("snapshot")
    await bound.send({"type": "comment", "text": "what sizes?", "ref": "c1"})
    routed = await bound.wait_for(lambda f: f.get("ref") == "c1")
    assert routed["id"]
    assert routed["routed_to"] == "guide"
    await walk_in.send({"type": "comment", "text": "what colours?", "ref": "c2"})
    plain = await walk_in.wait_for(lambda f: f.get("ref") == "c2")
    assert "question_id" not in plain
    await bound.send({"type": "comment", "text": "nice", "ref": "c3"})
    assert "question_id" not in await bound.wait_for(lambda f: f.get("ref") == "c3")
    frame = await desk.wait_for(lambda f: f.get("type") == "workspace" and bool(f.get("questions")))
    assert [q["text"] for q in frame["questions"]] == ["what sizes?"]
    assert frame["questions"][0]["comment_id"] == routed["id"]
    comments = await walk_in.wait_for(
        lambda f: (
            f.get("type") == "comments" and any(c["text"] == "what sizes?" for c in f["items"])
        )
    )
    assert comments
    for room in (desk, bound, walk_in):
        await room.close()


async def test_unclaimed_questions_go_to_the_host_with_figures(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A viewer whose guide never opened the workspace, and one with no guide asking: the host
    panel gets both, lists them unclaimed, answers one; per-guide figures count answers."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    host = await Room.join(b.ws_url(sid, opened.host_token))
    await host.wait_type("snapshot")
    away_guides_viewer = await viewer_through(a, b, sid, "guide-away", "v1")
    nobodys = await Room.join(a.ws_url(sid, a.token("viewer", "v2")))
    await nobodys.wait_type("snapshot")
    await away_guides_viewer.send({"type": "comment", "text": "in stock?", "ask": True, "ref": "1"})
    await nobodys.send({"type": "comment", "text": "delivery time", "ask": True, "ref": "2"})
    first = await away_guides_viewer.wait_for(lambda f: f.get("ref") == "1")
    second = await nobodys.wait_for(lambda f: f.get("ref") == "2")
    assert first["routed_to"] == second["routed_to"] == "host"
    seen = [await host.wait_type("question") for _ in range(2)]
    assert {f["question"]["question_id"] for f in seen} == {
        first["question_id"],
        second["question_id"],
    }
    async with a.client(opened.host_token) as panel:
        listed = (await panel.get(f"/api/sessions/{sid}/questions")).json()
        assert {q["question_id"] for q in listed["unclaimed"]} == {
            first["question_id"],
            second["question_id"],
        }
        answered = await panel.post(
            f"/api/sessions/{sid}/questions/{second['question_id']}/answer",
            json={"text": "Two days"},
        )
        assert answered.status_code == 200, answered.text
        listed = (await panel.get(f"/api/sessions/{sid}/questions")).json()
    assert [q["question_id"] for q in listed["unclaimed"]] == [first["question_id"]]
    reply = await nobodys.wait_for(lambda f: f.get("type") == "private")
    assert reply["text"] == "Two days"
    assert reply["from_role"] == "host"
    for room in (host, away_guides_viewer, nobodys):
        await room.close()


async def test_guide_answer_figures(pair: tuple[LiveServer, LiveServer]) -> None:
    """The host sees, per guide, the questions routed to them, how many they answered, and the
    median and 90th percentile answer times."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    desk = await workspace(b, sid, "guide-g")
    viewer = await viewer_through(a, b, sid, "guide-g", "v1")
    ids: list[str] = []
    for n in range(3):
        await viewer.send({"type": "comment", "text": f"q{n}", "ask": True, "ref": f"r{n}"})
        acked = await viewer.wait_for(lambda f: f.get("ref") == f"r{len(ids)}")
        ids.append(acked["question_id"])
    async with b.client(b.token("guide", "guide-g")) as guide:
        for question_id in ids[:2]:
            done = await guide.post(
                f"/api/sessions/{sid}/questions/{question_id}/answer", json={"text": "yes"}
            )
            assert done.status_code == 200, done.text
        mine = (await guide.get(f"/api/sessions/{sid}/questions")).json()
    assert [q["question_id"] for q in mine["items"]] == ids
    async with a.client(opened.host_token) as panel:
        figures = (await panel.get(f"/api/sessions/{sid}/questions")).json()["guides"]
    assert len(figures) == 1
    assert figures[0]["guide_id"] == "guide-g"
    assert figures[0]["questions"] == 3
    assert figures[0]["answered"] == 2
    assert figures[0]["median_answer_ms"] is not None
    assert figures[0]["p90_answer_ms"] >= figures[0]["median_answer_ms"]
    assert guide_figures([]) == []
    for room in (desk, viewer):
        await room.close()


async def test_concurrent_questions_never_reach_a_wrong_guide_or_brand(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """Two brands, three guides each, viewers bound at random, asking at once on two nodes:
    every guide's desk gets exactly the questions of its own viewers."""
    rng = random.Random(19)
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        a, b = nodes
        sessions: dict[str, str] = {}
        desks: dict[tuple[str, str], Room] = {}
        askers: list[tuple[Room, str, str, str]] = []
        for brand in ("brand-x", "brand-y"):
            a.brand = b.brand = brand
            sessions[brand] = (await open_session(a)).session_id
            for g in range(3):
                desks[(brand, f"guide-{g}")] = await workspace(b, sessions[brand], f"guide-{g}")
            for v in range(8):
                guide = f"guide-{rng.randrange(3)}"
                viewer = f"viewer-{v}"
                node = rng.choice((a, b))
                room = await viewer_through(node, b, sessions[brand], guide, viewer)
                askers.append((room, brand, guide, viewer))

        async def ask(room: Room, brand: str, viewer: str) -> str:
            await room.send(
                {"type": "comment", "text": f"{brand} {viewer}?", "ask": True, "ref": "q"}
            )
            ack = await room.wait_for(lambda f: f.get("ref") == "q")
            return str(ack["question_id"])

        ids = await asyncio.gather(*(ask(r, brand, v) for r, brand, _, v in askers))
        expected: dict[tuple[str, str], set[str]] = {key: set() for key in desks}
        for question_id, (_, brand, guide, _) in zip(ids, askers, strict=True):
            expected[(brand, guide)].add(question_id)
        seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for key, desk in desks.items():

            def has_all(frame: dict[str, Any], key: tuple[str, str] = key) -> bool:
                got = {q["question_id"] for q in frame.get("questions", [])}
                return frame.get("type") == "workspace" and got >= expected[key]

            last = await desk.wait_for(has_all) if expected[key] else {"questions": []}
            seen[key] = [*_questions(desk), *last["questions"]]
        # Every question was delivered by now: a stray one would have been seen too.
        for key, questions in seen.items():
            assert {q["question_id"] for q in questions} == expected[key], key
            assert all(q["session_id"] == sessions[key[0]] for q in questions)
        for room in [*desks.values(), *(r for r, *_ in askers)]:
            await room.close()


async def test_guide_away_longer_than_the_handoff_loses_new_questions_to_the_host(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """With the brand's handoff at 0 s, a guide whose workspace closed a moment ago still gets
    their viewer's question (the refresh slack); once their marker is older than the slack, the
    next question goes to the host; the guide sees the first when they come back."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    async with a.client(a.token("admin", "boss")) as admin:
        policy = await admin.put("/api/brands/me/policy", json={"question_handoff_s": 0})
        assert policy.status_code == 200, policy.text
        assert policy.json()["question_handoff_s"] == 0
        assert (await admin.get("/api/brands/me/policy")).json()["question_handoff_s"] == 0
    desk = await workspace(b, sid, "guide-g")
    await desk.close()
    viewer = await viewer_through(a, b, sid, "guide-g", "v1")
    seen_key = workspace_feed.seen_key(sid, "guide-g")

    async def marked_closed() -> bool:
        return await a.context.redis.get(seen_key) is not None

    await eventually(marked_closed, what="the guide's seen marker")
    await viewer.send({"type": "comment", "text": "still there?", "ask": True, "ref": "1"})
    first = await viewer.wait_for(lambda f: f.get("ref") == "1")
    assert first["routed_to"] == "guide"
    closed_ms = await a.context.redis.get(seen_key)
    assert closed_ms is not None
    away_since = int(closed_ms) - desks.ONLINE_SLACK_MS - 1_000
    await a.context.redis.set(seen_key, away_since)
    await viewer.send({"type": "comment", "text": "anyone?", "ask": True, "ref": "2"})
    second = await viewer.wait_for(lambda f: f.get("ref") == "2")
    assert second["routed_to"] == "host"
    back = await Room.join(b.ws_url(sid, b.token("guide", "guide-g")))
    full = await back.wait_for(lambda f: f.get("type") == "workspace" and f["full"])
    assert [q["question_id"] for q in full["questions"]] == [first["question_id"]]
    async with a.client(opened.host_token) as panel:
        unclaimed = (await panel.get(f"/api/sessions/{sid}/questions")).json()["unclaimed"]
    assert [q["question_id"] for q in unclaimed] == [second["question_id"]]
    for room in (viewer, back):
        await room.close()


async def test_archived_answer_is_shown_only_to_those_it_concerns(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """After the end, the replay API shows the archived answer to its asker, its guide and the
    host, and not to another viewer of the session."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    desk = await workspace(b, sid, "guide-g")
    asker = await viewer_through(a, b, sid, "guide-g", "v1")
    await asker.send({"type": "comment", "text": "gift wrap?", "ask": True, "ref": "q"})
    question_id = (await asker.wait_for(lambda f: f.get("ref") == "q"))["question_id"]
    async with b.client(b.token("guide", "guide-g")) as guide:
        answered = await guide.post(
            f"/api/sessions/{sid}/questions/{question_id}/answer", json={"text": "Free, yes"}
        )
        assert answered.status_code == 200, answered.text
    await asker.wait_type("private")
    for room in (desk, asker):
        await room.close()
    async with a.client(opened.host_token) as host:
        assert (await host.post(f"/api/sessions/{sid}/end")).status_code == 200

        async def archived() -> bool:
            return (await host.get(f"/api/sessions/{sid}/replay")).status_code == 200

        await eventually(archived, what="the session's archive")

    async def answers(role: str, sub: str) -> list[dict[str, Any]]:
        async with a.client(a.token(role, sub)) as client:
            events = (await client.get(f"/api/sessions/{sid}/replay")).json()
        return [e for e in events if e["type"] == "question_answer"]

    assert [e["answer"] for e in await answers("host", "host-1")] == ["Free, yes"]
    assert [e["question_id"] for e in await answers("viewer", "v1")] == [question_id]
    assert len(await answers("guide", "guide-g")) == 1
    assert await answers("viewer", "v2") == []
    assert await answers("guide", "guide-h") == []
