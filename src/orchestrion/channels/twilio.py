"""The ``twilio`` provider: SMS, MMS, WhatsApp and RCS through Twilio's Messages API.

One message per Action: ``POST /2010-04-01/Accounts/{TwilioSid}/Messages.json``
with ``To``, ``From``, ``Body``, ``MediaUrl`` (each), or ``ContentSid`` and
``ContentVariables``, and ``StatusCallback`` =
``{ORCHESTRION_PUBLIC_URL}/twilio/{AccountSid}/status?actionId=...`` (the
Orchestrion account's status entry point; the Action id lets a callback that
outruns the storing of the SID still find its Action). WhatsApp and RCS
addresses keep their ``whatsapp:`` / ``rcs:`` prefix, as Twilio expects.

Credentials (the account's configuration): ``accountSid`` with ``apiKey`` +
secret ``apiSecret``, or secret ``authToken``. The base URL is the option
``apiUrl``, else ORCHESTRION_TWILIO_API_URL (``https://api.twilio.com``).

Idempotency: the Messages API takes no idempotency key, so each attempt is
recorded (``SendLedger.begin``) before the call. An attempt that finds an
earlier one whose outcome is unknown (a crash, a timeout, a 5xx after the
request went out) first lists the messages from ``From`` to ``To`` and
adopts one created since that earlier attempt (give or take ``CLOCK_SKEW_S``)
with the same body and no other send's SID. The window that remains is in
``docs/providers.md``.
"""

from __future__ import annotations

import email.utils
import json
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from orchestrion.channels import http
from orchestrion.channels.base import OutboundMessage, ProviderSetup, SendLedger, SendReceipt
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput, ProviderError
from orchestrion.domain.ids import is_sid
from orchestrion.domain.outcomes import failure_reason

log = structlog.get_logger("orchestrion.providers.twilio")

NAME = "twilio"
SERVICE = "Twilio's Messages API"
DEFAULT_API_URL = "https://api.twilio.com"
# How far Twilio's clock (date_created) may be from ours when an earlier attempt is looked up.
CLOCK_SKEW_S = 30
LOOKUP_PAGE_SIZE = 50
CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.RCS})
# Twilio: "Invalid parameter" (what a message it cannot send as asked fails with here).
INVALID = 21201


def _status_callback(public_url: str | None, account_sid: str) -> str:
    if public_url is None:
        raise InvalidInput(
            "The twilio provider needs ORCHESTRION_PUBLIC_URL (this server's public base URL) "
            "for Twilio's status callbacks"
        )
    return f"{public_url}/twilio/{account_sid}/status"


def credentials(options: Any, secrets: Any) -> tuple[str, str, str]:
    """(Twilio account SID, Basic user, Basic password) from a configuration; InvalidInput if incomplete."""
    sid = options.get("accountSid", "")
    if not is_sid(sid, "AC"):
        raise InvalidInput("The twilio provider needs its Twilio Account SID (AC + 32 hex)")
    key = options.get("apiKey")
    if key is not None:
        if not is_sid(key, "SK") or not secrets.get("apiSecret"):
            raise InvalidInput("The twilio provider's API key must be SK + 32 hex, with its secret")
        return sid, key, secrets["apiSecret"]
    if not secrets.get("authToken"):
        raise InvalidInput("The twilio provider needs an API key and secret, or the auth token")
    return sid, sid, secrets["authToken"]


def make(setup: ProviderSetup) -> TwilioProvider:
    config = setup.config
    if not config.channels <= CHANNELS:
        others = ",".join(sorted(c.lower() for c in config.channels - CHANNELS))
        raise InvalidInput(f"The twilio provider sends sms, whatsapp and rcs, not {others}")
    sid, user, password = credentials(config.options, config.secrets)
    return TwilioProvider(
        twilio_sid=sid,
        auth=(user, password),
        api_url=(config.options.get("apiUrl") or setup.twilio_api_url).rstrip("/"),
        status_callback=_status_callback(setup.public_url, config.account_sid),
        ledger=setup.ledger,
        timeout_s=setup.timeout_s,
    )


def _form(message: OutboundMessage, status_callback: str) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "To": message.to_addresses[0],
        "From": message.from_address,
        "StatusCallback": status_callback,
    }
    if message.content_id is not None:
        form["ContentSid"] = message.content_id
        if message.variables:
            form["ContentVariables"] = json.dumps(dict(message.variables))
    if message.text is not None:
        form["Body"] = message.text
    if message.media_urls:
        form["MediaUrl"] = list(message.media_urls)
    return form


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _created_s(item: dict[str, Any]) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(str(item.get("date_created"))).timestamp()
    except (TypeError, ValueError):
        return None


class TwilioProvider:
    def __init__(
        self,
        *,
        twilio_sid: str,
        auth: tuple[str, str],
        api_url: str,
        status_callback: str,
        ledger: SendLedger,
        timeout_s: float = 10.0,
    ) -> None:
        self._messages = f"{api_url}/2010-04-01/Accounts/{twilio_sid}/Messages.json"
        self._auth = auth
        self._status_callback = status_callback
        self._ledger = ledger
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"TwilioProvider({self._messages!r})"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = http.client(self._timeout_s)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        if len(message.to_addresses) != 1:
            text = "Twilio's Messages API sends to one recipient; this message has several"
            raise ProviderError(failure_reason(INVALID, text), transient=False, code=INVALID)
        earlier = await self._ledger.begin(idempotency_key)
        if earlier is not None:
            found = await self._find(message, since_ms=earlier, key=idempotency_key)
            if found is not None:
                log.info("twilio_send_found", action_id=idempotency_key, message_sid=found)
                return SendReceipt(found)
        callback = f"{self._status_callback}?actionId={quote(idempotency_key)}"
        try:
            response = await self._client().post(self._messages, data=_form(message, callback), auth=self._auth)
        except httpx.HTTPError as error:
            if http.never_sent(error):
                await self._ledger.forget(idempotency_key)
            raise http.network_error(SERVICE, error) from error
        if response.is_success:
            sid = _json(response).get("sid")
            if not isinstance(sid, str) or not (is_sid(sid, "SM") or is_sid(sid, "MM")):
                raise ProviderError(f"{SERVICE} answered without a message SID", transient=True)
            return SendReceipt(sid)
        if response.status_code < 500:  # 4xx and 429: Twilio created nothing
            await self._ledger.forget(idempotency_key)
        raise http.refused(SERVICE, response)

    async def _find(self, message: OutboundMessage, *, since_ms: int, key: str) -> str | None:
        """The message an earlier attempt may have created: same From, To and body, created since it started."""
        params = {"To": message.to_addresses[0], "From": message.from_address, "PageSize": str(LOOKUP_PAGE_SIZE)}
        try:
            response = await self._client().get(self._messages, params=params, auth=self._auth)
        except httpx.HTTPError as error:
            raise http.network_error(SERVICE, error) from error
        if not response.is_success:
            raise http.refused(SERVICE, response)
        items = _json(response).get("messages")
        if not isinstance(items, list):
            raise ProviderError(f"{SERVICE} answered a message list without messages", transient=True)
        since_s = since_ms / 1000 - CLOCK_SKEW_S
        for item in reversed(items):  # oldest first: the earliest attempt's message
            if not isinstance(item, dict):
                continue
            created = _created_s(item)
            if created is None or created < since_s:
                continue
            if message.text is not None and item.get("body") != message.text:
                continue
            sid = item.get("sid")
            if isinstance(sid, str) and not await self._ledger.taken(sid, key):
                return sid
        return None
