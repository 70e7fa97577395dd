"""Operations: /v2/ControlPlane/Operations/{id}, the status of a control-plane write."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, base_url, state
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.openapi import documented
from orchestrion.api.views.operations import operation
from orchestrion.services import operations


@documented("FetchOperationStatus", "Fetch the status of an operation", tag="ControlPlane")
async def fetch(request: Request) -> Response:
    account_sid = await authenticate(request)
    found = await operations.get_operation(state(request).ctx, account_sid, request.path_params["id"])
    return JSONResponse(operation(found, base_url(request)))


routes: list[BaseRoute] = [Route("/v2/ControlPlane/Operations/{id}", fetch, methods=["GET"])]
