"""Console: the test clock (when ORCHESTRION_TEST_CLOCK is on): the server's time, and moving it forward."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console import live
from orchestrion.api.console.guard import Form, form, page, redirect, render
from orchestrion.api.console.session import Session
from orchestrion.api.context import state
from orchestrion.domain.errors import InvalidInput, NotFound
from orchestrion.services.testclock import TestClock

UNITS_MS = {"minutes": 60_000, "hours": 3_600_000}


def _clock(request: Request) -> TestClock:
    test_clock = state(request).test_clock
    if test_clock is None:
        raise NotFound("page", "/console/clock (the test clock is off: set ORCHESTRION_TEST_CLOCK=1)")
    return test_clock


@page
async def clock_page(request: Request, session: Session) -> Response:
    return render(request, session, "clock.html", clock=_clock(request).state(), notice=live.notice(request))


@form
async def advance(request: Request, session: Session, fields: Form) -> Response:
    test_clock = _clock(request)
    unit_ms = UNITS_MS.get(fields.get("unit", ""))
    amount = fields.get("amount", "").strip()
    try:
        value = float(amount)
    except ValueError:
        value = 0.0
    if unit_ms is None or not (math.isfinite(value) and value > 0):
        raise InvalidInput("Give a number of minutes or hours, more than 0")
    await test_clock.advance(round(value * unit_ms))
    return redirect("/console/clock?notice=advanced")
