"""The action-status read beside Starlette's router: the route clients poll.

A GET of ``/v2/Conversations/{ConversationId}/Actions/{ActionId}`` is answered
here, behind the gate (authenticated, counted against the account's limits)
and the access log, without Starlette's exception middleware, router and
``Request``: those cost about a fifth of the read's CPU (bench/README.md,
"sixth pass"). The route stays registered: the OpenAPI document lists it,
HEAD goes through it, and the access log, metrics and tracing name this
request by its template, as they do every routed one.
"""

from __future__ import annotations

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrion.api import errors
from orchestrion.api.context import ApiState
from orchestrion.api.routes.actions import status_body
from orchestrion.domain.errors import OrchestrionError

_JSON = (b"content-type", b"application/json")


class StatusLane:
    def __init__(self, app: ASGIApp, api: ApiState, route: Route) -> None:
        self.app = app
        self.api = api
        self.route = route
        self._path = route.path_regex  # the route's own pattern: matched as its router would (string parameters)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._path.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        try:
            body = await status_body(
                self.api, scope["state"]["account_sid"], found["ConversationId"], found["ActionId"]
            )
        except OrchestrionError as error:
            await errors.from_domain(error)(scope, receive, send)
            return
        headers = [(b"content-length", str(len(body)).encode()), _JSON]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
