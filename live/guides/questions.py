"""Questions to a viewer's own guide: routed, answered privately, archived, counted.

Contract: a viewer's question (`question_records.is_question`) goes to the guide the viewer is
bound to in the viewer's brand (`live.guides.attribution`), and only to that guide's desk;
a viewer without a guide asking with ``ask``, or whose guide's workspace has been away longer
than the brand's ``question_handoff_s``, has an unclaimed question, which goes to the hosts'
panels instead. A room comment that matches the rule from a viewer with no guide stays a
comment. The first answer wins (a second gets ``conflict``): it reaches the asker alone as a
``private`` frame on every node, and is archived as a ``question_answer`` event (kept in the
session's archive, never sent to the room).
"""

from typing import Any

from sqlalchemy import select, update

from common.errors import ClientError, Code
from live.auth.tokens import Principal, Role
from live.context import Context
from live.db.models import GuideQuestionRow
from live.db.unit import transaction
from live.guides import attribution, desks, question_records, workspace_feed
from live.platform import ids
from live.platform.clock import now_ms
from live.sessions import session_records
from realtime.connection import Viewer
from realtime.protocol import MAX_ID_CHARS

MAX_QUESTIONS_LISTED = 200


def handler(ctx: Context) -> Any:
    """The hub's question handler (`realtime.commands.QuestionHandler`)."""

    async def route(
        session_id: str, viewer: Viewer, comment_id: str | None, text: str, asked: bool
    ) -> dict[str, Any]:
        if not question_records.is_question(text, asked=asked):
            return {}
        binding = await attribution.lookup(ctx.redis, viewer.brand, viewer.user_id)
        if binding is None and not asked:
            return {}
        guide_id = binding.guide_id if binding is not None else None
        if guide_id is not None:
            policy = await ctx.policies.get(viewer.brand)
            away_ms = policy.question_handoff_s * 1000
            if not await desks.online(ctx.redis, session_id, guide_id, away_ms=away_ms):
                guide_id = None
        row = GuideQuestionRow(
            id=ids.new_id("qst"),
            brand=viewer.brand,
            session_id=session_id,
            viewer_id=viewer.user_id,
            viewer_name=viewer.name,
            guide_id=guide_id,
            comment_id=comment_id,
            text=text,
            asked_ms=now_ms(),
        )
        async with transaction(ctx.db) as db:
            db.add(row)
        view = question_records.question_view(row)
        if guide_id is not None:
            await workspace_feed.tell(ctx.bus, session_id, guide_id, "question", question=view)
        else:
            await ctx.bus.send_control(
                session_id, {"kind": "hosts", "frame": {"type": "question", "question": view}}
            )
        return {"question_id": row.id, "routed_to": "guide" if guide_id else "host"}

    return route


async def answer(
    ctx: Context, principal: Principal, session_id: str, question_id: str, text: str
) -> dict[str, Any]:
    """Answer a question: its guide, or a host of the brand; the asker gets it privately."""
    text = text.strip()
    if not text or len(text) > question_records.MAX_ANSWER_CHARS:
        raise ClientError(
            Code.INVALID_REQUEST, f"an answer is 1..{question_records.MAX_ANSWER_CHARS} chars"
        )
    ts = now_ms()
    async with transaction(ctx.db) as db:
        session = await session_records.load(db, principal.brand, session_id)
        row = await db.get(GuideQuestionRow, question_id[:MAX_ID_CHARS])
        mine = row is not None and (
            principal.role in (Role.HOST, Role.ADMIN) or row.guide_id == principal.sub
        )
        if row is None or row.session_id != session_id or row.brand != principal.brand or not mine:
            raise ClientError(Code.NOT_FOUND, f"no question {question_id}")
        changed = await db.execute(
            update(GuideQuestionRow)
            .where(GuideQuestionRow.id == row.id, GuideQuestionRow.answered_ms.is_(None))
            .values(answer=text, answered_by=principal.sub, answered_ms=ts)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise ClientError(Code.CONFLICT, "this question is already answered")
        row.answer, row.answered_by, row.answered_ms = text, principal.sub, ts
    view = question_records.question_view(row)
    name = principal.name or principal.sub
    frame = {
        "type": "private",
        "kind": "answer",
        "question_id": row.id,
        "question": row.text,
        "from": name,
        "from_role": principal.role.value,
        "text": text,
        "ts": ts,
    }
    await ctx.hub.moderation.private(session_id, row.viewer_id, frame)
    archived = {**view, "from": name, "ts": ts, "t_ms": session_records.t_ms(session, ts)}
    await ctx.bus.publish(session_id, question_records.ANSWER_EVENT, archived)
    if row.guide_id is not None:
        await workspace_feed.tell(ctx.bus, session_id, row.guide_id, "answered", question_id=row.id)
    await ctx.bus.send_control(
        session_id, {"kind": "hosts", "frame": {"type": "question_answered", "question": view}}
    )
    return view


async def listed(ctx: Context, principal: Principal, session_id: str) -> dict[str, Any]:
    """A guide's questions in the session; for hosts, the unclaimed ones and per-guide figures."""
    async with transaction(ctx.db) as db:
        await session_records.load(db, principal.brand, session_id)
        query = select(GuideQuestionRow).where(
            GuideQuestionRow.session_id == session_id, GuideQuestionRow.brand == principal.brand
        )
        if principal.role == Role.GUIDE:
            query = query.where(GuideQuestionRow.guide_id == principal.sub)
        rows = list(await db.scalars(query.order_by(GuideQuestionRow.asked_ms)))
    if principal.role == Role.GUIDE:
        return {"items": [question_records.question_view(r) for r in rows[-MAX_QUESTIONS_LISTED:]]}
    policy = await ctx.policies.get(principal.brand)
    away_ms = policy.question_handoff_s * 1000
    online: dict[str, bool] = {}
    unclaimed = []
    for row in rows:
        if row.answered_ms is not None:
            continue
        if row.guide_id is not None and row.guide_id not in online:
            online[row.guide_id] = await desks.online(
                ctx.redis, session_id, row.guide_id, away_ms=away_ms
            )
        if row.guide_id is None or not online[row.guide_id]:
            unclaimed.append(question_records.question_view(row))
    return {
        "unclaimed": unclaimed[-MAX_QUESTIONS_LISTED:],
        "guides": question_records.guide_figures(rows),
    }
