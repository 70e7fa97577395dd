"""The outermost middleware against an app with a failing route: a Twilio 500, logged at error with its traceback."""

from __future__ import annotations

import httpx
import pytest
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchestrion.api.app import create_app
from orchestrion.runtime import Runtime
from tests.conftest import test_settings

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def boom(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def test_an_unexpected_error_is_a_twilio_500_logged_at_error_with_its_traceback(sqlite_url: str) -> None:
    runtime = Runtime.build(test_settings(sqlite_url))
    app = create_app(runtime.api_state(), extra_routes=[Route("/boom", boom)])
    try:
        with structlog.testing.capture_logs() as logs:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client:
                answer = await client.get("/boom", headers={"X-Request-Id": "client-id-1"})
    finally:
        await runtime.stop()
    assert answer.status_code == 500
    assert answer.json() == {
        "code": 20500,
        "message": "Internal server error",
        "more_info": "https://www.twilio.com/docs/errors/20500",
        "status": 500,
    }
    assert answer.headers["x-request-id"] == "client-id-1"
    [line] = [e for e in logs if e["event"] == "request"]
    assert (line["log_level"], line["status"], line["route"], line["request_id"]) == (
        "error",
        500,
        "/boom",
        "client-id-1",
    )
    assert line["exc_info"] is True
