"""The outermost middleware: one access line per request, a request id, and no unhandled error escapes.

Every HTTP request gets an ``X-Request-Id`` response header (``RQ`` + 32 hex,
or the caller's own ``X-Request-Id`` when it is a short plain token) and one
``request`` log line with the same id: method, route template (never the
path, which holds ids), status, duration, account. Credentials never appear:
the account is the one the gate authenticated. The line is at info; a 5xx is
at error, and an unexpected exception is logged with its traceback and
answered with a Twilio-shaped 500 (when nothing was sent yet).

The access line costs nothing when info is filtered out: the level is read
once, when the app is built (logging is configured at the entry point, before
that), and no log call is made (the GET action route is the hot path).
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrion.api import errors

REQUEST_ID_HEADER = b"x-request-id"
_GIVEN_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")

log = structlog.get_logger("orchestrion.access")


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _GIVEN_ID.fullmatch(value):
            return bytes(value)
    return b"RQ" + os.urandom(16).hex().encode()


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Logging is configured once, at the entry point, before the app is built.
        self._info = log.is_enabled_for(logging.INFO)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_ns = time.perf_counter_ns()
        request_id = _request_id(scope)
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # noqa: BLE001 - the last line of defence: logged with its traceback, answered 500
            if status == 0:
                await errors.error_response(500, 20500, "Internal server error")(scope, receive, send_with_id)
            self._line(scope, request_id, status or 500, started_ns, failed=True)
            return
        if self._info or status >= 500:
            self._line(scope, request_id, status, started_ns, failed=False)

    @staticmethod
    def _line(scope: Scope, request_id: bytes, status: int, started_ns: int, *, failed: bool) -> None:
        route: Any = scope.get("route")
        fields = {
            "method": scope["method"],
            "route": getattr(route, "path", None),
            "status": status,
            "duration_ms": round((time.perf_counter_ns() - started_ns) / 1e6, 3),
            "account_sid": scope.get("state", {}).get("account_sid"),
            "request_id": request_id.decode("ascii"),
        }
        if failed:
            log.exception("request", **fields)
        elif status >= 500:
            log.error("request", **fields)
        else:
            log.info("request", **fields)
