"""What Twilio posts to a customer's webhooks: /twilio/{AccountSid}/messages and /status.

Point a Twilio number's "A message comes in" webhook at
``https://<server>/twilio/<AccountSid>/messages`` and its status callback at
``.../status``. Not behind Basic auth: each request is authenticated by its
``X-Twilio-Signature`` (the form-body scheme, keyed with the account's auth
token, or with the auth token of the Twilio account its ``twilio`` provider
sends through, which is what Twilio signs that provider's callbacks with); a
missing or wrong signature, or an unknown account, is a 403 with no effect.
The ``twilio`` provider adds ``?actionId=...`` to its callback URL: signed
with the rest, it names the Action a callback is about.

The URL signed is the one Twilio called: ``ORCHESTRION_PUBLIC_URL`` (the
server's public base URL) followed by the path and query when set; otherwise
the request's own, with ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` (set by
a reverse proxy) taking precedence over the scheme and ``Host``. A URL with a
port is also checked without it (Twilio drops default ports).

Both answer 200 with empty TwiML (``<Response/>``), whether the message was
captured or not, so Twilio never retries a message that no capture rule takes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api import errors
from orchestrion.api.context import state
from orchestrion.api.jsonio import read_body
from orchestrion.api.openapi import documented
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.inbound import InboundMessage, signature_matches, twilio_signature
from orchestrion.services import ingestion

MESSAGES = "/twilio/{AccountSid}/messages"
STATUS = "/twilio/{AccountSid}/status"
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_MEDIA = 10
_DIGITS = re.compile(r"[0-9]{1,9}")


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


def _first(value: str | None) -> str | None:
    return None if value is None else value.split(",")[0].strip() or None


def signed_url(request: Request) -> str:
    """The URL Twilio called, as it signed it."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    public = state(request).public_url
    if public is not None:
        return public + path
    scheme = _first(request.headers.get("x-forwarded-proto")) or request.url.scheme
    host = _first(request.headers.get("x-forwarded-host")) or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}{path}"


def _without_port(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.port is None or parts.hostname is None:
        return None
    return urlunsplit(parts._replace(netloc=parts.hostname))


async def _verified_params(request: Request) -> list[tuple[str, str]] | None:
    """The form parameters, if the request is signed by the account in its path; else None."""
    raw = await read_body(request)
    try:
        params = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    given = request.headers.get("x-twilio-signature")
    url = signed_url(request)

    def matches(tokens: Sequence[str]) -> bool:
        return any(
            candidate is not None and signature_matches(twilio_signature(candidate, params, token), given)
            for token in tokens
            for candidate in (url, _without_port(url))
        )

    signed = await state(request).signing.signed_by(request.path_params["AccountSid"], matches)
    return params if signed else None


def _forbidden() -> Response:
    return errors.error_response(403, 20003, "The X-Twilio-Signature of this request is missing or wrong")


def _number(value: str | None) -> int | None:
    """A small decimal number Twilio sends as text; None for anything else (str.isdigit takes '²')."""
    return int(value) if value is not None and _DIGITS.fullmatch(value) else None


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise InvalidInput(f"Missing parameter {name}")
    return value


def inbound_message(params: dict[str, str]) -> InboundMessage:
    """An incoming message as Twilio posts it (``MessageSid``, ``From``, ``To``, ``Body``, ``MediaUrl0``...)."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid:
        raise InvalidInput("Missing parameter MessageSid")
    count = min(_number(params.get("NumMedia")) or 0, MAX_MEDIA)
    media = tuple(url for i in range(count) if (url := params.get(f"MediaUrl{i}")))
    return InboundMessage(
        message_sid=sid,
        from_address=_required(params, "From"),
        to_address=_required(params, "To"),
        body=params.get("Body"),
        media_urls=media,
    )


@documented(
    "ReceiveTwilioMessage",
    "An incoming message, as Twilio posts it to a messaging webhook",
    tag="Twilio",
    security="twilioSignature",
)
async def messages(request: Request) -> Response:
    params = await _verified_params(request)
    if params is None:
        return _forbidden()
    message = inbound_message(dict(params))
    await ingestion.ingest(state(request).ctx, request.path_params["AccountSid"], message)
    return _twiml()


@documented(
    "ReceiveTwilioStatus", "A message status callback, as Twilio posts it", tag="Twilio", security="twilioSignature"
)
async def status(request: Request) -> Response:
    params = await _verified_params(request)
    if params is None:
        return _forbidden()
    values = dict(params)
    sid = values.get("MessageSid") or values.get("SmsSid") or ""
    reported = values.get("MessageStatus") or values.get("SmsStatus") or ""
    if not sid or not reported:
        raise InvalidInput("Missing parameter MessageSid or MessageStatus")
    code = _number(values.get("ErrorCode"))
    callback = ingestion.StatusCallback(
        message_sid=sid,
        status=reported,
        error_code=code,
        error_message=values.get("ErrorMessage") or None,
        from_address=values.get("From") or None,
        to_address=values.get("To") or None,
        idempotency_key=request.query_params.get("actionId") or None,
    )
    await ingestion.status_callback(state(request).ctx, request.path_params["AccountSid"], callback)
    return _twiml()


routes: list[BaseRoute] = [
    Route(MESSAGES, messages, methods=["POST"]),
    Route(STATUS, status, methods=["POST"]),
]
