"""The Studio stand-in: /v2/Flows/{FlowSid}/Executions[/{Sid}[/Context]] (see ``services.studio``).

Form-encoded requests and snake_case responses, as Twilio's Studio v2 API and
its SDKs use them; authenticated like /v2 and scoped to the account. Lists
page with ``PageSize`` and the ``next_page_url`` the SDKs follow.
"""

from __future__ import annotations

from urllib.parse import urlencode

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, base_url, state
from orchestrion.api.jsonio import JSONResponse, read_form
from orchestrion.api.openapi import documented
from orchestrion.api.pagination import page_request, time_param
from orchestrion.api.schemas.studio import (
    CreateExecutionForm,
    ExecutionContextOut,
    ExecutionListOut,
    ExecutionOut,
    ListMetaOut,
    UpdateExecutionForm,
    context,
)
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.studio import STATUSES, Execution
from orchestrion.services import studio
from orchestrion.store.studio import ExecutionFilter

LIST = "/v2/Flows/{FlowSid}/Executions"
ONE = LIST + "/{Sid}"
CONTEXT = ONE + "/Context"
TAG = "Studio"
FORM = "application/x-www-form-urlencoded"


def _json(model: BaseModel, status_code: int = 200) -> Response:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code)


def _out(request: Request, execution: Execution) -> ExecutionOut:
    return ExecutionOut.of(execution, state(request).ctx.clock.now_ms(), base_url(request))


@documented(
    "CreateExecution",
    "Start (record) a Flow Execution",
    body=CreateExecutionForm,
    status=201,
    tag=TAG,
    response=ExecutionOut,
    media_type=FORM,
)
async def create(request: Request) -> Response:
    account_sid = await authenticate(request)
    form = await read_form(request, CreateExecutionForm)
    created = await studio.create_execution(state(request).ctx, account_sid, request.path_params["FlowSid"], form.new())
    return _json(_out(request, created), 201)


@documented("ListExecution", "List a Flow's Executions, oldest first", tag=TAG, response=ExecutionListOut)
async def list_(request: Request) -> Response:
    account_sid = await authenticate(request)
    api = state(request)
    flow_sid = request.path_params["FlowSid"]
    status = request.query_params.get("Status") or request.query_params.get("status") or None
    if status is not None and status not in STATUSES:
        raise InvalidInput("Invalid parameter status: must be active or ended")
    f = ExecutionFilter(
        flow_sid=flow_sid,
        status=status,
        now_ms=api.ctx.clock.now_ms(),
        created_from_ms=time_param(request, "DateCreatedFrom"),
        created_until_ms=time_param(request, "DateCreatedTo"),
    )
    filters = {
        k: v
        for k, v in (
            ("Status", status),
            ("DateCreatedFrom", request.query_params.get("DateCreatedFrom")),
            ("DateCreatedTo", request.query_params.get("DateCreatedTo")),
        )
        if v
    }
    scope = "\x00".join(["executions", account_sid, flow_sid, urlencode(sorted(filters.items()))])
    page = page_request(request, api.tokens, scope)
    raw_page = request.query_params.get("Page") or "0"
    if not raw_page.isdigit():
        raise InvalidInput("Invalid parameter Page: must be a whole number")
    number = int(raw_page)
    found = await studio.list_executions(api.ctx, account_sid, page, f)
    here = f"{base_url(request)}{request.url.path}"

    def url(page_number: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": str(page.limit), "Page": str(page_number)}
        if token is not None:
            query["PageToken"] = token
        return f"{here}?{urlencode(query)}"

    next_url = previous_url = None
    if found.items and found.more_after:
        next_url = url(number + 1, api.tokens.encode(scope, "n", found.items[-1].sid))
    if found.items and found.more_before and number > 0:
        previous_url = url(number - 1, api.tokens.encode(scope, "p", found.items[0].sid))
    now = api.ctx.clock.now_ms()
    body = ExecutionListOut(
        executions=[ExecutionOut.of(e, now, base_url(request)) for e in found.items],
        meta=ListMetaOut(
            page=number,
            page_size=page.limit,
            first_page_url=url(0),
            previous_page_url=previous_url,
            next_page_url=next_url,
            url=f"{here}?{request.url.query}" if request.url.query else here,
            key="executions",
        ),
    )
    return _json(body)


@documented("FetchExecution", "Fetch a Flow Execution", tag=TAG, response=ExecutionOut)
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    found = await studio.get_execution(state(request).ctx, account_sid, p["FlowSid"], p["Sid"])
    return _json(_out(request, found))


@documented(
    "UpdateExecution",
    "End a Flow Execution (Status=ended)",
    body=UpdateExecutionForm,
    tag=TAG,
    response=ExecutionOut,
    media_type=FORM,
)
async def update(request: Request) -> Response:
    account_sid = await authenticate(request)
    form = await read_form(request, UpdateExecutionForm)
    p = request.path_params
    ended = await studio.end_execution(state(request).ctx, account_sid, p["FlowSid"], p["Sid"], form.status)
    return _json(_out(request, ended))


@documented("DeleteExecution", "Delete a Flow Execution", status=204, tag=TAG)
async def delete(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    await studio.delete_execution(state(request).ctx, account_sid, p["FlowSid"], p["Sid"])
    return Response(status_code=204)


@documented("FetchExecutionContext", "A Flow Execution's context", tag=TAG, response=ExecutionContextOut)
async def fetch_context(request: Request) -> Response:
    account_sid = await authenticate(request)
    p = request.path_params
    found = await studio.get_execution(state(request).ctx, account_sid, p["FlowSid"], p["Sid"])
    out = ExecutionContextOut(
        account_sid=found.account_sid,
        context=context(found),
        flow_sid=found.flow_sid,
        execution_sid=found.sid,
        url=f"{base_url(request)}{request.url.path}",
    )
    return _json(out)


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(LIST, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, update, methods=["POST"]),
    Route(ONE, delete, methods=["DELETE"]),
    Route(CONTEXT, fetch_context, methods=["GET"]),
]
