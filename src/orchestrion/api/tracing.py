"""A server span for every HTTP request, when tracing is on: the root of an Action's trace.

A ``traceparent`` header on the request (the caller's own trace) becomes the
span's parent. The span is named by method and route template (never the raw
path, which holds ids), learnt once the router has matched. A request the
sampler leaves out costs only the sampling decision: with metrics off it goes
through untouched (no wrapped ``send``, no route lookup). With metrics on this
middleware also records the request's metrics (``api.metrics``) in place of
``RequestMetrics``: one layer, one wrapped ``send`` and one route lookup for
both, where two middlewares cost a tenth of the hot GET.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api.metrics import record_request, route_template
from orchestrion.services.metrics import Metrics
from orchestrion.services.tracing import Attribute, Tracer

TRACEPARENT_HEADER = b"traceparent"


class RequestTracing:
    def __init__(self, app: ASGIApp, tracer: Tracer, metrics: Metrics | None = None) -> None:
        self.app = app
        self.tracer = tracer
        self.metrics = metrics
        # Per method, built once: the span's first name and its attributes (the tracer copies them).
        self._starts: dict[str, tuple[str, dict[str, Attribute]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
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
            if self.metrics is None and not span.recording:
                await self.app(scope, receive, send)
                return
            status = 500  # unless a response starts: an exception becomes a 500 further out

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, sending)
            finally:
                route = route_template(scope)
                if self.metrics is not None:
                    record_request(self.metrics, scope, route, status, started)
                if span.recording:
                    span.set("http.response.status_code", status)
                    span.set("http.route", route)
                    span.rename(f"{method} {route}")
