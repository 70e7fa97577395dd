"""A stand-in for Twilio's Messages API, for the bench's twilio-provider target when no real one runs.

``POST /2010-04-01/Accounts/{Sid}/Messages.json`` answers 201 with a new
message SID at once, then posts ``sent`` and ``delivered`` to the message's
``StatusCallback``, form-encoded and signed with ``STUB_AUTH_TOKEN`` as Twilio
signs. No storage, no auth check: it measures what the provider path costs
Orchestrion, not the Messages API.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestrion.domain.inbound import twilio_signature

TOKEN = os.environ.get("STUB_AUTH_TOKEN", "")
_pending: set[asyncio.Task[None]] = set()
_http: httpx.AsyncClient | None = None


async def _report(url: str, sid: str, to: str, from_: str) -> None:
    global _http
    if _http is None:
        _http = httpx.AsyncClient(timeout=10)
    for status in ("sent", "delivered"):
        params = {"MessageSid": sid, "MessageStatus": status, "To": to, "From": from_}
        headers = {"X-Twilio-Signature": twilio_signature(url, params.items(), TOKEN)}
        try:
            await _http.post(url, data=params, headers=headers)
        except httpx.HTTPError:
            return


async def create(request: Request) -> JSONResponse:
    form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    sid = "SM" + secrets.token_hex(16)
    callback = form.get("StatusCallback")
    if callback:
        task = asyncio.create_task(_report(callback, sid, form.get("To", ""), form.get("From", "")))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
    body = {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"), "body": form.get("Body")}
    return JSONResponse(body, status_code=201)


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"]),
        Route("/healthz", health),
    ]
)
