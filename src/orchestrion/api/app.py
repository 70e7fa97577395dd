"""The ASGI application: routes, error translation, body limits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrion.api import console, errors
from orchestrion.api.context import ApiState
from orchestrion.api.gate import Gate
from orchestrion.api.jsonio import JSONResponse
from orchestrion.api.metrics import RequestMetrics, metrics_page
from orchestrion.api.openapi import openapi_document
from orchestrion.api.routes import ROUTES

log = structlog.get_logger("orchestrion.api")


class CatchAll:
    """Last line of defence: any unexpected error becomes a Twilio-shaped 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("request_failed", method=scope.get("method"), path=scope.get("path"))
            if not started:
                await errors.error_response(500, 20500, "Internal server error")(scope, receive, send)


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
    # Metrics outermost, so requests the gate refuses are counted too; none at all when metrics are off.
    middleware = [Middleware(Gate, api=api)]
    if api.metrics is not None:
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))
        middleware.insert(0, Middleware(RequestMetrics, metrics=api.ctx.metrics))
    if api.console_key is not None:
        routes += console.routes()
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=errors.EXCEPTION_HANDLERS, lifespan=lifespan
    )
    app.state.api = api
    if api.console_key is not None:
        app.state.console = console.build(api.console_key)
    return CatchAll(app)
