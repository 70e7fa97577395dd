"""The Studio Flow Executions the account started, at a glance: GET /sandbox/studio/executions (Orchestrion's own API).

Authenticated like /v2, scoped to the account. Filters ``flowSid``,
``conversationId`` (the conversation the execution's parameters name, as
Twilio Agent Connect's handoff does) and ``status`` (active, ended), and
``limit`` (1..1000, default 100): the newest matching, listed oldest first,
each with its parameters, like ``/sandbox/messages``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.openapi import documented
from orchestrion.api.schemas.studio import SandboxExecutionListOut, SandboxExecutionOut
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.studio import STATUSES
from orchestrion.services import studio
from orchestrion.services.sandbox import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT
from orchestrion.store.studio import ExecutionFilter


@documented(
    "ListSandboxStudioExecutions",
    "The Studio Flow Executions the account started",
    tag="Sandbox",
    response=SandboxExecutionListOut,
)
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    ctx = state(request).ctx
    query = request.query_params
    raw_limit = query.get("limit") or str(DEFAULT_LIST_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
        raise InvalidInput(f"Invalid parameter limit: must be an integer from 1 to {MAX_LIST_LIMIT}")
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInput("Invalid parameter status: must be active or ended")
    now = ctx.clock.now_ms()
    f = ExecutionFilter(
        flow_sid=query.get("flowSid") or None,
        conversation_id=query.get("conversationId") or None,
        status=status,
        now_ms=now,
    )
    found = await studio.recent_executions(ctx, account_sid, f, int(raw_limit))
    return JSONResponse(SandboxExecutionListOut(executions=[SandboxExecutionOut.of(e, now) for e in found]).wire())


routes: list[BaseRoute] = [Route("/sandbox/studio/executions", list_, methods=["GET"])]
