"""The test clock: /sandbox/clock (Orchestrion's own API, not Twilio's).

Off unless the server runs with ``ORCHESTRION_TEST_CLOCK=1``: then every call
here answers 404. Authenticated like /v2 (any account may move it: the clock
is the server's, shared by all accounts).

- ``GET /sandbox/clock``: ``{"now", "nowMs", "offsetMs"}``.
- ``POST /sandbox/clock/advance`` with ``{"seconds": N}``, ``{"minutes": N}``
  or ``{"hours": N}`` (exactly one, more than 0): moves time forward and answers
  once every status-timeout timer now due has fired, with the new
  ``{"now", "nowMs", "offsetMs", "settled"}`` (``settled`` false: some were
  still running after 10 seconds).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.jsonio import JSONResponse, read_json
from orchestrion.api.openapi import documented
from orchestrion.api.schemas.common import StrictWire
from orchestrion.domain.clock import to_wire
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.services.testclock import ClockState, TestClock

CLOCK = "/sandbox/clock"
ADVANCE = "/sandbox/clock/advance"

Amount = Annotated[float, Field(gt=0)]


class AdvanceIn(StrictWire):
    seconds: Amount | None = None
    minutes: Amount | None = None
    hours: Amount | None = None

    def delta_ms(self) -> int:
        given = [
            (value, scale)
            for value, scale in ((self.seconds, 1000), (self.minutes, 60_000), (self.hours, 3_600_000))
            if value is not None
        ]
        if len(given) != 1:
            raise InvalidInput("Give exactly one of seconds, minutes or hours, a number more than 0")
        value, scale = given[0]
        return round(value * scale)


def _clock(request: Request) -> TestClock:
    test_clock = state(request).test_clock
    if test_clock is None:
        raise NotFound("resource", f"{request.url.path} (the test clock is off: set ORCHESTRION_TEST_CLOCK=1)")
    return test_clock


def _render(clock: ClockState) -> dict[str, Any]:
    return {"now": to_wire(clock.now_ms), "nowMs": clock.now_ms, "offsetMs": clock.offset_ms}


@documented("FetchTestClock", "The server's time as the test clock sets it", tag="Sandbox")
async def fetch(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse(_render(_clock(request).state()))


@documented(
    "AdvanceTestClock", "Move the server's time forward and fire the timers now due", body=AdvanceIn, tag="Sandbox"
)
async def advance(request: Request) -> Response:
    await authenticate(request)
    test_clock = _clock(request)
    body = await read_json(request, AdvanceIn)
    moved = await test_clock.advance(body.delta_ms())
    return JSONResponse({**_render(moved), "settled": moved.settled})


routes: list[BaseRoute] = [
    Route(CLOCK, fetch, methods=["GET"]),
    Route(ADVANCE, advance, methods=["POST"]),
]
