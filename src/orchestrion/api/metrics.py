"""HTTP metrics: a Starlette middleware that counts and times every request, and the /metrics page.

The middleware sits in Starlette's middleware stack outside the gate, so
requests the gate refuses (401, 429) are counted too. Requests are labelled
by route template (``/v2/Conversations/{ConversationId}/Actions/{ActionId}``),
never by raw path, so the number of series stays bounded: the router records
the route it matched in the scope; a request refused before routing is
matched here once (only then); one that matches no route is ``unmatched``.
Unusual methods are folded into ``OTHER`` for the same reason.

``/metrics`` answers the exposition of ``ApiState.metrics``; with
ORCHESTRION_METRICS_TOKEN set it asks for ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api import errors
from orchestrion.api.context import state
from orchestrion.domain.errors import NotFound
from orchestrion.services import jobs
from orchestrion.services.metrics import Metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    if route is None:
        app: Any = scope.get("app")
        for candidate in getattr(app, "routes", ()):
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def record_request(metrics: Metrics, scope: Scope, route: str, status: int, started: float) -> None:
    method = scope["method"]
    metrics.http_request(route, method if method in METHODS else "OTHER", status, time.perf_counter() - started)


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception becomes a 500 further out

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            record_request(self.metrics, scope, route_template(scope), status, started)


async def metrics_page(request: Request) -> Response:
    api = state(request)
    if api.metrics is None:
        raise NotFound("resource", "/metrics (metrics are off: ORCHESTRION_METRICS=off)")
    if api.metrics_token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {api.metrics_token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return errors.error_response(
                401,
                20003,
                "Authentication required: Authorization: Bearer <ORCHESTRION_METRICS_TOKEN>",
                {"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body, content_type = api.metrics.render(await jobs.outbox_depth(api.ctx))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
