"""A server span for every HTTP request, when tracing is on: the root of an Action's trace.

A ``traceparent`` header on the request (the caller's own trace) becomes the
span's parent. The span is named by method and route template (never the raw
path, which holds ids), learnt once the router has matched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api.metrics import route_template
from orchestrion.services.tracing import Tracer


class RequestTracing:
    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None)
        method = scope["method"]
        with self.tracer.span(f"HTTP {method}", {"http.request.method": method}, parent=parent) as span:

            async def sending(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set("http.response.status_code", message["status"])
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = route_template(scope)
                span.set("http.route", route)
                span.rename(f"{method} {route}")
