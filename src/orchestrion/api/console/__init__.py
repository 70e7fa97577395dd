"""The console at /console: conversations, their timelines, the sandbox inbox, configurations, the test clock.

Part of the HTTP edge: server-rendered pages (Jinja2) that call the services
only, exactly as the API routes do, for the account of the signed-in session
(``guard``). htmx (vendored in ``static/``) redraws live regions (``live``).
ORCHESTRION_CONSOLE=off leaves every route here out of the application.
See docs/console.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from orchestrion.api.console import clock, configurations, conversations, inbox, signin
from orchestrion.api.console.guard import Console, page
from orchestrion.api.console.render import STATIC_PREFIX, Templates
from orchestrion.api.console.session import Session, Sessions
from orchestrion.domain.errors import NotFound


async def _home(_request: Request) -> Response:
    return RedirectResponse("/console/conversations", status_code=303)


@page
async def _unknown(request: Request, session: Session) -> Response:
    raise NotFound("page", request.url.path)


def build(key: bytes) -> Console:
    """The console's state for one application: its session key and templates."""
    return Console(Sessions(key), Templates())


def routes() -> list[BaseRoute]:
    one = "/console/conversations/{id}"
    return [
        Route("/console", _home, methods=["GET"]),
        Route("/console/sign-in", signin.sign_in_page, methods=["GET"]),
        Route("/console/sign-in", signin.sign_in, methods=["POST"]),
        Route("/console/sign-out", signin.sign_out, methods=["POST"]),
        Route("/console/conversations", conversations.list_page, methods=["GET"]),
        Route("/console/conversations/rows", conversations.list_rows, methods=["GET"]),
        Route(one, conversations.conversation_page, methods=["GET"]),
        Route(one + "/timeline", conversations.conversation_timeline, methods=["GET"]),
        Route(one + "/status", conversations.change_status, methods=["POST"]),
        Route(one + "/reply", conversations.reply, methods=["POST"]),
        Route(one + "/webhooks/{delivery}/redeliver", conversations.redeliver, methods=["POST"]),
        Route("/console/inbox", inbox.inbox_page, methods=["GET"]),
        Route("/console/inbox/rows", inbox.inbox_rows, methods=["GET"]),
        Route("/console/inbox/clear", inbox.clear, methods=["POST"]),
        Route("/console/inbox/{sid}", inbox.message_page, methods=["GET"]),
        Route("/console/inbox/{sid}/reply", inbox.reply, methods=["POST"]),
        Route("/console/configurations", configurations.list_page, methods=["GET"]),
        Route("/console/configurations/{id}", configurations.configuration_page, methods=["GET"]),
        Route("/console/clock", clock.clock_page, methods=["GET"]),
        Route("/console/clock/advance", clock.advance, methods=["POST"]),
        Mount(STATIC_PREFIX, StaticFiles(packages=[("orchestrion.api.console", "static")]), name="console-static"),
        Route("/console/{rest:path}", _unknown, methods=["GET"]),
    ]
