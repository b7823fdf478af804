"""The guide workspace's endpoints: questions and their answers, coupon budgets, nudges.

"My viewers now" itself comes over the guide's room socket (``workspace`` frames).
"""

from starlette.requests import Request
from starlette.routing import Route

from live.api import request as req
from live.api.responses import JSON
from live.auth.tokens import Role
from live.guides import nudges, question_records, questions


async def list_questions(request: Request) -> JSON:
    """``GET /api/sessions/{id}/questions``: the guide's own (guide); the unclaimed ones and
    per-guide answer figures (host, admin)."""
    caller = req.principal(request, Role.GUIDE, Role.HOST, Role.ADMIN)
    session_id = request.path_params["session_id"]
    return JSON(await questions.listed(req.context(request), caller, session_id))


async def answer(request: Request) -> JSON:
    """``POST /api/sessions/{id}/questions/{question_id}/answer`` {text} (the question's
    guide; host, admin)."""
    caller = req.principal(request, Role.GUIDE, Role.HOST, Role.ADMIN)
    body = await req.json_object(request)
    text = req.text(body, "text", max_chars=question_records.MAX_ANSWER_CHARS)
    params = request.path_params
    answered = await questions.answer(
        req.context(request), caller, params["session_id"], params["question_id"], text
    )
    return JSON(answered)


async def put_budget(request: Request) -> JSON:
    """``PUT /api/sessions/{id}/guides/{guide_id}/budget`` {count, value_cap_cents} (host,
    admin)."""
    caller = req.principal(request, Role.HOST, Role.ADMIN)
    body = await req.json_object(request)
    params = request.path_params
    budget = await nudges.set_budget(
        req.context(request),
        caller,
        params["session_id"],
        req.text(dict(params), "guide_id", max_chars=64),
        count=req.integer(body, "count", minimum=0, maximum=nudges.MAX_COUNT),
        value_cap_cents=req.integer(
            body, "value_cap_cents", minimum=0, maximum=nudges.MAX_VALUE_CENTS
        ),
    )
    return JSON(budget)


async def list_budgets(request: Request) -> JSON:
    """``GET /api/sessions/{id}/budgets``: every guide's (host, admin), the guide's own."""
    caller = req.principal(request, Role.GUIDE, Role.HOST, Role.ADMIN)
    session_id = request.path_params["session_id"]
    return JSON({"items": await nudges.budgets_of(req.context(request), caller, session_id)})


async def nudge(request: Request) -> JSON:
    """``POST /api/sessions/{id}/nudges`` {viewer_id, value_cents, min_spend_cents?} (guide)
    -> 201 {coupon, viewer_id, budget}."""
    caller = req.principal(request, Role.GUIDE)
    body = await req.json_object(request)
    sent = await nudges.nudge(
        req.context(request),
        caller,
        request.path_params["session_id"],
        req.text(body, "viewer_id", max_chars=64),
        value_cents=req.integer(body, "value_cents", minimum=1, maximum=nudges.MAX_VALUE_CENTS),
        min_spend_cents=req.optional_integer(
            body, "min_spend_cents", minimum=0, maximum=nudges.MAX_VALUE_CENTS
        )
        or 0,
    )
    return JSON(sent, status_code=201)


routes = [
    Route("/api/sessions/{session_id}/questions", list_questions, methods=["GET"]),
    Route("/api/sessions/{session_id}/questions/{question_id}/answer", answer, methods=["POST"]),
    Route("/api/sessions/{session_id}/guides/{guide_id}/budget", put_budget, methods=["PUT"]),
    Route("/api/sessions/{session_id}/budgets", list_budgets, methods=["GET"]),
    Route("/api/sessions/{session_id}/nudges", nudge, methods=["POST"]),
]
