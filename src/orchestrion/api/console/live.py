"""Live regions: parts of a page that draw themselves again when what they show changes.

A live region is an element with ``data-live-url`` and ``data-sig`` (the
signature of what it shows, ``services.changes``). ``static/console.js``
asks that URL about once a second while the tab is visible, with
``since=<sig>``: the answer is 204 (nothing changed: no body, no redraw) or
the region drawn anew, which htmx swaps in place. Every process reads the
same database, so it does not matter which process answers (``serve
--workers N``, or several hosts). Why polling and not Server-Sent Events:
docs/console.md.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as _quote

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console.guard import render
from orchestrion.api.console.session import Session
from orchestrion.api.context import state
from orchestrion.services.changes import Signature

# What a page says after a form sent the visitor back to it (fixed texts: nothing from the URL is shown).
NOTICES = {
    "closed": "The conversation is CLOSED.",
    "reopened": "The conversation is ACTIVE again.",
    "redelivery": "The status callback is queued for delivery again.",
    "replied": "The customer's reply was captured.",
    "ignored": "The reply was not captured: no capture rule took it in.",
    "cleared": "The inbox is empty.",
    "advanced": "The test clock moved forward; timers now due have fired.",
}


def quote(text: str) -> str:
    return _quote(text, safe="")


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def unchanged(request: Request, signature: Signature) -> Response | None:
    """204 when the region the browser shows is still current (and settled: see ``services.changes``)."""
    if request.query_params.get("since") == signature.value and signature.settled(state(request).ctx.clock.now_ms()):
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return None


def fragment(request: Request, session: Session, template: str, signature: Signature, **context: Any) -> Response:
    """The region drawn anew, or 204 when the browser already shows it."""
    same = unchanged(request, signature)
    if same is not None:
        return same
    return render(request, session, template, signature=signature, **context)
