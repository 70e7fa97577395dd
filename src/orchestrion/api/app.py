"""The ASGI application: routes, error translation, and the middleware stack (Starlette's own).

Outermost first: ``AccessLog`` (request id, access line, last line of defence
against an unexpected error), ``RequestMetrics`` (when metrics are on, so the
gate's refusals are counted too), ``Gate`` (authentication and per-account
limits before routing), ``StatusLane`` (the action-status read, answered
without the router: api/lane.py), then Starlette's exception middleware and
the router.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import orjson
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from orchestrion.api import console, errors
from orchestrion.api.access import AccessLog
from orchestrion.api.context import ApiState
from orchestrion.api.gate import Gate
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.lane import StatusLane
from orchestrion.api.metrics import RequestMetrics, metrics_page
from orchestrion.api.openapi import openapi_document
from orchestrion.api.routes import ROUTES
from orchestrion.api.routes.actions import ONE as ACTION_PATH
from orchestrion.api.tracing import RequestTracing
from orchestrion.services.tracing import NoTracer

log = structlog.get_logger("orchestrion.api")


async def healthz(request: Request) -> Response:
    api: ApiState = request.app.state.api
    async with api.ctx.store.read() as tx:
        await tx.accounts.first_sid()
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    # Routes never change after start: build the document once.
    cached: bytes | None = getattr(request.app.state, "openapi", None)
    if cached is None:
        cached = orjson.dumps(openapi_document(request.app.routes))
        request.app.state.openapi = cached
    return Response(cached, media_type="application/json")


def status_route() -> Route:
    """The registered route the status lane (api.lane) answers for."""
    return next(r for r in ROUTES if isinstance(r, Route) and r.path == ACTION_PATH and "GET" in (r.methods or ()))


def create_app(
    api: ApiState,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> ASGIApp:
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        *ROUTES,
        *extra_routes,
    ]
    middleware = [
        Middleware(AccessLog),  # outermost: sees every answer, including the gate's refusals
        Middleware(Gate, api=api),
        Middleware(StatusLane, api=api, route=status_route()),  # innermost: behind the gate
    ]
    if api.metrics is not None:  # none at all when metrics are off
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))
    if not isinstance(api.ctx.tracer, NoTracer):  # no middleware at all when tracing is off
        # It records the request metrics too, when on: one layer for both (api/tracing.py).
        metrics = api.ctx.metrics if api.metrics is not None else None
        middleware.insert(1, Middleware(RequestTracing, tracer=api.ctx.tracer, metrics=metrics))
    elif api.metrics is not None:
        middleware.insert(1, Middleware(RequestMetrics, metrics=api.ctx.metrics))
    if api.console_key is not None:
        routes += console.routes()
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=errors.EXCEPTION_HANDLERS, lifespan=lifespan
    )
    app.state.api = api
    if api.console_key is not None:
        app.state.console = console.build(api.console_key)
    return app
