"""The only place that knows HTTP statuses and Twilio error codes.

Every error leaves as ``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from orchestrion.domain import errors

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"

# (HTTP status, Twilio code) for each error of the tree, most specific first.
_MAPPING: list[tuple[type[errors.OrchestrionError], int, int]] = [
    (errors.PayloadTooLarge, 413, 20001),
    (errors.InvalidInput, 400, 20001),
    (errors.Unauthenticated, 401, 20003),
    (errors.Forbidden, 403, 20403),
    (errors.NotFound, 404, 20404),
    (errors.Conflict, 409, 20409),
    (errors.InvalidState, 409, 20409),
    (errors.IdempotencyMismatch, 422, 20422),
    (errors.RateLimited, 429, 20429),
    (errors.StoreUnavailable, 503, 20503),
]


def error_response(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"code": code, "message": message, "more_info": MORE_INFO.format(code=code), "status": status})
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def status_and_code(kind: type[errors.OrchestrionError]) -> tuple[int, int]:
    """The HTTP status and Twilio code of an error class (500 and 20500 when unmapped)."""
    for mapped, status, code in _MAPPING:
        if issubclass(kind, mapped):
            return status, code
    return 500, 20500


def from_domain(error: errors.OrchestrionError) -> Response:
    for kind, status, code in _MAPPING:
        if isinstance(error, kind):
            headers: dict[str, str] = {}
            if isinstance(error, errors.Conflict) and error.conflicting_id:
                headers["X-Conflicting-Resource-Id"] = error.conflicting_id
            if isinstance(error, errors.Unauthenticated):
                headers["WWW-Authenticate"] = 'Basic realm="Orchestrion"'
            if isinstance(error, errors.RateLimited):
                headers["Retry-After"] = str(error.retry_after)
                if error.concurrent is not None:
                    headers["Twilio-Concurrent-Requests"] = str(error.concurrent)
            if isinstance(error, errors.StoreUnavailable):
                headers["Retry-After"] = "1"
            return error_response(status, code, error.message, headers)
    return error_response(500, 20500, "Internal server error")


async def handle_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.OrchestrionError)
    return from_domain(exc)


def allowed_methods(request: Request) -> str:
    """Every method the routes of this path answer (Starlette's own 405 names only the first route's).

    Where templates overlap (``/Profiles/Lookup`` and ``/Profiles/{profileId}``), the path is the
    one with the most literal segments, as the API documents it.
    """
    matching = [
        route
        for route in request.app.routes
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] is not Match.NONE
    ]
    fewest = min((route.path.count("{") for route in matching), default=0)
    methods = {method for route in matching if route.path.count("{") == fewest for method in route.methods or ()}
    return ", ".join(sorted(methods))


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, 20404, "The requested resource was not found")
    if exc.status_code == 405:
        return error_response(405, 20004, "Method not allowed on this resource", {"Allow": allowed_methods(request)})
    return error_response(exc.status_code, 20000 + exc.status_code, str(exc.detail))


async def handle_unexpected(_request: Request, _exc: Exception) -> Response:
    # Logged by the server's middleware; the client never sees a traceback.
    return error_response(500, 20500, "Internal server error")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    errors.OrchestrionError: handle_domain_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
