"""Twilio's Messages API, the part apps use: /2010-04-01/Accounts/{AccountSid}/Messages.

Point twilio-python's ``client.api.base_url`` (or any client of Twilio's REST
API) at Orchestrion and ``client.messages.create(...)`` sends through the
sandbox (``services.messages_api``). Behind the same Basic auth as /v2; the
``{AccountSid}`` of the path must be the caller's (another account's is a 404,
as an unknown message is). Requests are form-encoded, answers in Twilio's 2010
JSON shape, errors with Twilio's codes:

- ``POST .../Messages.json``: To, From or MessagingServiceSid, Body, MediaUrl
  (repeated), ContentSid and ContentVariables (a JSON object), StatusCallback.
  201 with the message. 21604 no To, 21603 no From, 21602 nothing to send, 21211
  a To that is no number, 21212 a From that is neither a number nor a sender id,
  21617 a Body past 1,600 characters, 21609 a StatusCallback that may not be
  called, and the sandbox's magic failure numbers with their own codes.
- ``GET .../Messages.json``: newest first; To, From, ``DateSent`` (a day
  ``YYYY-MM-DD``, or an instant ``YYYY-MM-DDThh:mm:ssZ``), ``DateSent<`` (before
  the end of that day, or before that instant), ``DateSent>`` (from its start);
  ``PageSize`` (1..1000, default 50), ``Page`` and ``PageToken`` (the position
  after the last message of the previous page: paging is by key, not offset).
  Dates are those of the message's creation, when the sandbox sends it.
- ``GET .../Messages/{MessageSid}.json``, ``DELETE`` (204).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from orchestrion.api.context import authenticate, state
from orchestrion.api.errors import error_response
from orchestrion.api.jsonio import JSONResponse, read_body
from orchestrion.api.openapi import documented
from orchestrion.api.views.messages_2010 import message
from orchestrion.domain.channels import is_e164
from orchestrion.domain.errors import InvalidInput, NotFound, ProviderError
from orchestrion.domain.inbound import bare
from orchestrion.services import messages_api

LIST = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
ONE = "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json"
MAX_BODY_CHARS = 1600
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
_SENDER_ID = re.compile(r"[A-Za-z0-9 ]{1,11}")
_DAY_MS = 86_400_000


class _Refused(Exception):
    """A request Twilio's Messages API refuses with one of its own codes."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


async def _account(request: Request) -> str:
    account_sid = await authenticate(request)
    if request.path_params["AccountSid"] != account_sid:
        raise NotFound("Account", request.path_params["AccountSid"])
    return account_sid


async def _form(request: Request) -> dict[str, list[str]]:
    raw = await read_body(request)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}  # Twilio reads form fields only: nothing was given
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as error:
        raise _Refused(20001, "The request body is not UTF-8") from error
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[-1].strip() or None if values else None


def _new_message(form: Mapping[str, list[str]]) -> messages_api.NewMessage:
    to = _one(form, "To")
    sender = _one(form, "From")
    service = _one(form, "MessagingServiceSid")
    body = _one(form, "Body")
    media = tuple(url for url in form.get("MediaUrl", []) if url.strip())
    content_sid = _one(form, "ContentSid")
    if to is None:
        raise _Refused(21604, "A 'To' phone number is required.")
    if sender is None and service is None:
        raise _Refused(21603, "A 'From' phone number is required.")
    if body is None and not media and content_sid is None:
        raise _Refused(21602, "Message body is required.")
    if not is_e164(bare(to)):
        raise _Refused(21211, f"Invalid 'To' Phone Number: {to}")
    if sender is not None and not (is_e164(bare(sender)) or _SENDER_ID.fullmatch(sender)):
        raise _Refused(21212, f"Invalid From Number (caller ID): {sender}")
    if body is not None and len(body) > MAX_BODY_CHARS:
        raise _Refused(21617, f"The concatenated message body exceeds the {MAX_BODY_CHARS} character limit.")
    return messages_api.NewMessage(
        to=to,
        from_address=sender,
        messaging_service_sid=service,
        body=body,
        media_urls=media,
        content_sid=content_sid,
        content_variables=_variables(_one(form, "ContentVariables")),
        status_callback=_one(form, "StatusCallback"),
    )


def _variables(raw: str | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise _Refused(21656, "The ContentVariables Parameter is invalid: a JSON object is required.")
    return {str(k): str(v) for k, v in parsed.items()}


def _refusal(refused: _Refused) -> Response:
    return error_response(refused.status, refused.code, refused.message)


@documented("CreateMessage", "Send a message (Twilio's Messages API)", status=201, tag="Messages API")
async def create(request: Request) -> Response:
    account_sid = await _account(request)
    try:
        new = _new_message(await _form(request))
        created = await messages_api.create(state(request).ctx, account_sid, new)
    except _Refused as refused:
        return _refusal(refused)
    except ProviderError as failed:
        return error_response(400, failed.code or 30001, failed.message)
    except InvalidInput as bad:
        return error_response(400, 21609, bad.message)
    return JSONResponse(message(created), status_code=201)


@documented("FetchMessage", "Fetch a message (Twilio's Messages API)", tag="Messages API")
async def fetch(request: Request) -> Response:
    account_sid = await _account(request)
    found = await messages_api.get(state(request).ctx, account_sid, request.path_params["MessageSid"])
    return JSONResponse(message(found))


@documented("DeleteMessage", "Delete a message (Twilio's Messages API)", status=204, tag="Messages API")
async def delete(request: Request) -> Response:
    account_sid = await _account(request)
    await messages_api.delete(state(request).ctx, account_sid, request.path_params["MessageSid"])
    return Response(status_code=204)


def _instant(name: str, raw: str) -> tuple[int, int]:
    """``raw`` as [start, end) in ms: a whole day for ``YYYY-MM-DD``, one second for an instant."""
    try:
        if len(raw) == 10:
            day = datetime.date.fromisoformat(raw)
            start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
            return int(start.timestamp() * 1000), int(start.timestamp() * 1000) + _DAY_MS
        moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as error:
        raise _Refused(20001, f"Invalid parameter {name}: {raw!r} is not YYYY-MM-DD or an ISO 8601 instant") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    ms = int(moment.timestamp() * 1000)
    return ms, ms + 1000


def _int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _Refused(20001, f"Invalid parameter {name}: an integer from {low} to {high} is required")
    return int(raw)


def _token(position: tuple[int, str]) -> str:
    return "PA" + base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode().rstrip("=")


def _position(raw: str | None) -> tuple[int, str] | None:
    if not raw:
        return None
    try:
        if not raw.startswith("PA"):
            raise ValueError(raw)
        padded = raw[2:] + "=" * (-len(raw[2:]) % 4)
        ms, _, sid = base64.urlsafe_b64decode(padded).decode().partition(":")
        return int(ms), sid
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise _Refused(20001, "Invalid parameter PageToken") from error


def _filter(query: Mapping[str, str], size: int) -> messages_api.ListFilter:
    sent_from, sent_before = None, None
    if query.get("DateSent"):
        sent_from, sent_before = _instant("DateSent", query["DateSent"])
    if query.get("DateSent<"):
        start, end = _instant("DateSent<", query["DateSent<"])
        sent_before = end if len(query["DateSent<"]) == 10 else start
    if query.get("DateSent>"):
        sent_from = _instant("DateSent>", query["DateSent>"])[0]
    return messages_api.ListFilter(
        to=query.get("To") or None,
        from_address=query.get("From") or None,
        sent_from_ms=sent_from,
        sent_before_ms=sent_before,
        after=_position(query.get("PageToken")),
        limit=size,
    )


def _page_uri(account_sid: str, query: Mapping[str, str], **changes: Any) -> str:
    params = {k: v for k, v in query.items() if k in ("To", "From", "DateSent", "DateSent<", "DateSent>")}
    params.update({k: str(v) for k, v in changes.items()})
    return f"/{messages_api.API_VERSION}/Accounts/{account_sid}/Messages.json?{urlencode(params)}"


@documented("ListMessage", "List messages, newest first (Twilio's Messages API)", tag="Messages API")
async def list_(request: Request) -> Response:
    account_sid = await _account(request)
    query = dict(request.query_params)
    try:
        size = _int(query, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        number = _int(query, "Page", 0, 0, 10**9)
        where = _filter(query, size + 1)
    except _Refused as refused:
        return _refusal(refused)
    found = list(await messages_api.page(state(request).ctx, account_sid, where))
    shown, more = found[:size], len(found) > size
    current: dict[str, Any] = {"PageSize": size, "Page": number}
    if query.get("PageToken"):
        current["PageToken"] = query["PageToken"]
    last = shown[-1] if shown else None
    next_uri = (
        _page_uri(account_sid, query, PageSize=size, Page=number + 1, PageToken=_token((last.created_ms, last.sid)))
        if more and last is not None
        else None
    )
    start = number * size
    return JSONResponse(
        {
            "messages": [message(m) for m in shown],
            "end": start + len(shown) - 1 if shown else start,
            "first_page_uri": _page_uri(account_sid, query, PageSize=size, Page=0),
            "next_page_uri": next_uri,
            "page": number,
            "page_size": size,
            "previous_page_uri": None,
            "start": start,
            "uri": _page_uri(account_sid, query, **current),
        }
    )


routes: list[BaseRoute] = [
    Route(LIST, create, methods=["POST"]),
    Route(LIST, list_, methods=["GET"]),
    Route(ONE, fetch, methods=["GET"]),
    Route(ONE, delete, methods=["DELETE"]),
]
