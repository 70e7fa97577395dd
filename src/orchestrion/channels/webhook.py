"""The ``webhook`` provider: each message POSTed as signed JSON to a team's own gateway.

The request (``docs/providers.md`` has the whole contract)::

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <the Action id>
    X-Orchestrion-Timestamp: <unix seconds>
    X-Orchestrion-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the signing secret>

    {"id": "<Action id>", "accountSid", "conversationId", "channel", "from", "to": [...],
     "content": {"text", "contentId", "variables", "mediaUrls"}, "channelSettings",
     "attempt", "statusCallback": "<public url>/providers/webhook/<AccountSid>/status"}

A 2xx answer carries ``{"messageId": "<the gateway's id>"}``; the Action's
``messageSid`` is that id hashed into Twilio's SID form
(``domain.providers.gateway_message_sid``), and status reports name the same
id. Idempotency is the gateway's, on ``Idempotency-Key`` (every attempt of an
Action sends the same one): it answers a repeat with the first answer. Errors
as every provider (``channels.http``): 429 / 5xx / network errors are retried,
honouring ``Retry-After``; other 4xx fail the Action, with the answer's
``code`` and ``message`` when it has them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from orchestrion.channels import http
from orchestrion.channels.base import OutboundMessage, ProviderSetup, SendReceipt
from orchestrion.domain.errors import InvalidInput, ProviderError
from orchestrion.domain.providers import SIGNATURE_HEADER, TIMESTAMP_HEADER, gateway_message_sid, sign

NAME = "webhook"
SERVICE = "The webhook gateway"
STATUS_PATH = "/providers/webhook/{account_sid}/status"
MAX_ID = 256


def make(setup: ProviderSetup) -> WebhookProvider:
    config = setup.config
    url = config.options.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("The webhook provider needs the gateway's URL (http:// or https://)")
    secret = config.secrets.get("signingSecret", "")
    if len(secret) < 16:
        raise InvalidInput("The webhook provider's signing secret must be at least 16 characters")
    if setup.public_url is None:
        raise InvalidInput(
            "The webhook provider needs ORCHESTRION_PUBLIC_URL (this server's public base URL) "
            "for the gateway's status reports"
        )
    return WebhookProvider(
        account_sid=config.account_sid,
        url=url,
        secret=secret,
        status_url=setup.public_url + STATUS_PATH.format(account_sid=config.account_sid),
        timeout_s=setup.timeout_s,
    )


def request_body(message: OutboundMessage, key: str, status_url: str) -> bytes:
    document: dict[str, Any] = {
        "id": key,
        "accountSid": message.account_sid,
        "conversationId": message.conversation_id,
        "channel": str(message.channel),
        "from": message.from_address,
        "to": list(message.to_addresses),
        "content": {
            "text": message.text,
            "contentId": message.content_id,
            "variables": dict(message.variables) if message.variables else None,
            "mediaUrls": list(message.media_urls) if message.media_urls else None,
        },
        "channelSettings": dict(message.channel_settings) if message.channel_settings else None,
        "attempt": message.attempt,
        "statusCallback": status_url,
    }
    return json.dumps(document, separators=(",", ":")).encode()


class WebhookProvider:
    def __init__(
        self,
        *,
        account_sid: str,
        url: str,
        secret: str,
        status_url: str,
        timeout_s: float = 10.0,
        now_s: Callable[[], float] = time.time,
    ) -> None:
        self._account_sid = account_sid
        self._url = url
        self._secret = secret
        self._status_url = status_url
        self._timeout_s = timeout_s
        self._now_s = now_s
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"WebhookProvider({self._url!r})"

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        body = request_body(message, idempotency_key, self._status_url)
        stamp = int(self._now_s())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self._secret, stamp, body),
        }
        if self._http is None:
            self._http = http.client(self._timeout_s)
        try:
            response = await self._http.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as error:
            raise http.network_error(SERVICE, error) from error
        if not response.is_success:
            raise http.refused(SERVICE, response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        gateway_id = answer.get("messageId") if isinstance(answer, dict) else None
        if not isinstance(gateway_id, str) or not 0 < len(gateway_id) <= MAX_ID:
            raise ProviderError(f'{SERVICE} answered {response.status_code} without a "messageId"', transient=True)
        return SendReceipt(gateway_message_sid(self._account_sid, gateway_id))
