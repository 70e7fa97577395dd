"""Rendering console pages: the Jinja2 templates, their helpers, and the headers every page carries.

Templates autoescape everything, and the Content-Security-Policy lets a page
run only the console's own script files (no inline script, no eval: htmx is
configured not to need them), so text that a customer or an API client wrote
is shown as text and never runs. Pages are never cached (they show one
account's data).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse

import orchestrion
from orchestrion.domain.clock import to_wire

STATIC_PREFIX = "/console/static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def clock(ms: int | None) -> str:
    """``10:30:00.123``: a time of day in UTC, to the millisecond (the timeline's order is that fine)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def when(ms: int | None) -> str:
    """``2026-03-30 10:30:00 UTC``."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def wire_time(ms: int | None) -> str:
    return "" if ms is None else to_wire(ms)


def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def web_url(url: str) -> bool:
    """Whether a URL someone else wrote (a media URL) may become a link: http(s) only, never ``javascript:``."""
    return url.lower().startswith(("http://", "https://"))


def static(name: str) -> str:
    # The version busts browser caches on upgrade.
    return f"{STATIC_PREFIX}/{name}?v={orchestrion.__version__}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("orchestrion.api.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clock=clock, when=when, wire_time=wire_time, pretty_json=pretty_json, web_url=web_url)
    env.globals.update(static=static, version=orchestrion.__version__)
    return env


class Templates:
    def __init__(self) -> None:
        self._env = _environment()

    def render(self, template: str, **context: Any) -> str:
        return self._env.get_template(template).render(**context)

    def response(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        body = self.render(template, request=request, **context)
        return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
