"""A server span for every HTTP request, when tracing is on: the root of an Action's trace.

A ``traceparent`` header on the request (the caller's own trace) becomes the
span's parent. The span is named by method and route template (never the raw
path, which holds ids), learnt once the router has matched. A request the
sampler leaves out goes through untouched (no wrapped ``send``, no route
lookup): with ``parentbased_traceidratio`` most requests cost only the
sampling decision.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api.metrics import route_template
from orchestrion.services.tracing import Attribute, Tracer

TRACEPARENT_HEADER = b"traceparent"


class RequestTracing:
    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        # Per method, built once: the span's first name and its attributes (the tracer copies them).
        self._starts: dict[str, tuple[str, dict[str, Attribute]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = None
        for key, value in scope["headers"]:
            if key == TRACEPARENT_HEADER:
                parent = value.decode("latin-1")
                break
        method = scope["method"]
        start = self._starts.get(method)
        if start is None:
            start = (f"HTTP {method}", {"http.request.method": method})
            if len(self._starts) < 64:  # any token is a method to the server: keep the cache bounded
                self._starts[method] = start
        with self.tracer.span(*start, parent=parent) as span:
            if not span.recording:
                await self.app(scope, receive, send)
                return

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
