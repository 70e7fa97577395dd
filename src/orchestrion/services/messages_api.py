"""Twilio's Messages API (2010-04-01), emulated on the sandbox.

A message created here is a sandbox message like the ones Actions send: it
goes through the sandbox's timeline (queued, then sent and delivered, or what
a magic number decides; ``ORCHESTRION_SANDBOX_STEP_MS`` and the test clock
apply), shows in ``/sandbox/messages``, and can be fetched, listed (newest
first, keyset-paged) and deleted here. Its idempotency key is
``sandbox.API_KEY_PREFIX`` + a random token, which is how the timeline knows
no Action waits on it: each status it reaches becomes an ``API_STATUS_JOB``,
run by ``StatusHandler`` one at a time per message, in order, which

1. passes the status to ``ingestion.status_callback``, as if Twilio had
   reported it: when the message's (From, To) pair is captured by one of the
   account's configurations, its Communication's deliveryStatus moves;
2. posts it to the message's ``StatusCallback``, form-encoded and signed as
   Twilio signs (``X-Twilio-Signature`` over the URL and the sorted fields,
   keyed with the account's auth token), through the webhook sender (its
   destination rules and timeouts); a failed attempt is retried by the
   dispatcher, as any status callback.

Twilio's magic failure numbers are refused at once (``ProviderError`` with
Twilio's code), as Twilio does for test credentials; Orchestrion's own magic
numbers (undelivered, read) go through the timeline.

When the pair is captured, the message becomes an outbound Communication
(with its text) right after it is created, through ``ingestion.ingest``. That
is a second transaction: a crash between the two leaves the message without
its Communication until its first status arrives, which captures it then
(without the text, as a Twilio status callback would).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog

from orchestrion.channels.base import OutboundMessage
from orchestrion.channels.sandbox import SandboxProvider, magic_failure
from orchestrion.domain.errors import InvalidInput, NotFound, ProviderError
from orchestrion.domain.inbound import InboundMessage, channel_of
from orchestrion.domain.models import Job
from orchestrion.services import ingestion, sandbox
from orchestrion.services.context import Context
from orchestrion.store.sandbox import SandboxMessage
from orchestrion.webhooks.sender import Outbound

log = structlog.get_logger("orchestrion.messages_api")

API_VERSION = "2010-04-01"
QUEUED = "INITIATED"  # a recipient's deliveryStatus while the message is queued


@dataclass(frozen=True, slots=True)
class NewMessage:
    to: str
    from_address: str | None = None
    messaging_service_sid: str | None = None
    body: str | None = None
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: Mapping[str, str] | None = None
    status_callback: str | None = None


@dataclass(frozen=True, slots=True)
class ListFilter:
    to: str | None = None
    from_address: str | None = None
    sent_from_ms: int | None = None  # inclusive
    sent_before_ms: int | None = None  # exclusive
    after: tuple[int, str] | None = None  # the page starts after this (created_ms, sid)
    limit: int = 50


async def create(ctx: Context, account_sid: str, new: NewMessage) -> SandboxMessage:
    """Send ``new`` through the sandbox; the message as stored (queued, or further at step 0)."""
    sender = new.from_address or new.messaging_service_sid or ""
    channel = channel_of(new.to)
    magic = magic_failure(channel, sender, new.to)
    if magic is not None:
        code, text = magic
        raise ProviderError(text, transient=False, code=code)
    if new.status_callback is not None:
        refusal = await ctx.webhooks.check_url(new.status_callback)
        if refusal is not None:
            raise InvalidInput(f"The StatusCallback URL {refusal}")
    fields = {"statusCallback": new.status_callback, "messagingServiceSid": new.messaging_service_sid}
    outbound = OutboundMessage(
        account_sid=account_sid,
        action_id="",
        conversation_id="",
        channel=channel,
        from_address=sender,
        to_addresses=(new.to,),
        text=new.body,
        content_id=new.content_sid,
        variables=new.content_variables,
        media_urls=new.media_urls or None,
        channel_settings={sandbox.API_SETTINGS_KEY: fields},
    )
    provider = SandboxProvider(sandbox.StorePort(ctx), step_ms=ctx.sandbox_step_ms)
    receipt = await provider.send(outbound, idempotency_key=sandbox.API_KEY_PREFIX + secrets.token_hex(16))
    if new.from_address is not None:
        await _capture(ctx, account_sid, receipt.message_sid, new)
    async with ctx.store.read() as tx:
        stored = await tx.sandbox.get(receipt.message_sid)
    assert stored is not None
    return stored


async def _capture(ctx: Context, account_sid: str, sid: str, new: NewMessage) -> None:
    assert new.from_address is not None
    message = InboundMessage(
        sid, new.from_address, new.to, body=new.body, media_urls=new.media_urls, outbound=True, delivery_status=QUEUED
    )
    with contextlib.suppress(InvalidInput):  # not addresses a conversation can hold: nothing to capture
        await ingestion.ingest(ctx, account_sid, message)


async def get(ctx: Context, account_sid: str, sid: str) -> SandboxMessage:
    return await sandbox.get_message(ctx, account_sid, sid, kind="Message")


async def page(ctx: Context, account_sid: str, where: ListFilter) -> Sequence[SandboxMessage]:
    async with ctx.store.read() as tx:
        return await tx.sandbox.page(
            account_sid,
            to=where.to,
            from_=where.from_address,
            created_from_ms=where.sent_from_ms,
            created_before_ms=where.sent_before_ms,
            after=where.after,
            limit=where.limit,
        )


async def delete(ctx: Context, account_sid: str, sid: str) -> None:
    async with ctx.store.write() as tx:
        deleted = await tx.sandbox.delete(account_sid, sid)
    if not deleted:
        raise NotFound("Message", sid)


def callback_fields(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The form fields of a Messages API status callback, as Twilio posts them."""
    fields = [
        ("AccountSid", str(payload["accountSid"])),
        ("ApiVersion", API_VERSION),
        ("From", str(payload.get("from") or "")),
        ("MessageSid", str(payload["sid"])),
        ("MessageStatus", str(payload["status"])),
        ("SmsSid", str(payload["sid"])),
        ("SmsStatus", str(payload["status"])),
        ("To", str(payload.get("to") or "")),
    ]
    if payload.get("errorCode") is not None:
        fields.append(("ErrorCode", str(payload["errorCode"])))
    if payload.get("errorMessage"):
        fields.append(("ErrorMessage", str(payload["errorMessage"])))
    return fields


class StatusHandler:
    """Runs ``messages_api.status`` jobs: one status of one Messages API message (see the module)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def run(self, job: Job) -> None:
        p = job.payload
        account_sid = str(p["accountSid"])
        report = ingestion.StatusCallback(
            message_sid=str(p["sid"]),
            status=str(p["status"]),
            error_code=p.get("errorCode"),
            error_message=p.get("errorMessage"),
            from_address=p.get("from") or None,
            to_address=p.get("to") or None,
        )
        if report.from_address is not None:  # a Messaging Service's message has no number to capture by
            await ingestion.status_callback(self._ctx, account_sid, report)
        url = p.get("statusCallback")
        if not url:
            return
        async with self._ctx.store.read() as tx:
            account = await tx.accounts.get(account_sid)
        if account is None:
            raise ProviderError(f"Account {account_sid} no longer exists", transient=False)
        outcome = await self._ctx.webhooks.send(
            Outbound(
                url=str(url),
                method="POST",
                body=urlencode(callback_fields(p)),
                auth_token=account.auth_token,
                idempotency_token=f"{p['sid']}-{p['status']}",
                form=True,
            )
        )
        if outcome.delivered:
            log.debug("message_status_callback_delivered", message_sid=p["sid"], status=p["status"])
            return
        assert outcome.error is not None
        log.info("message_status_callback_failed", message_sid=p["sid"], status=p["status"], error=outcome.error)
        raise ProviderError(outcome.error, transient=outcome.retryable)

    async def give_up(self, job: Job, reason: str) -> None:
        log.info("message_status_callback_given_up", message_sid=job.payload.get("sid"), reason=reason)


def segments(body: str | None) -> int:
    """How many SMS segments ``body`` takes: 160 characters in one (153 each when split), 70 / 67 beyond GSM."""
    if not body:
        return 1
    gsm = all(ord(c) < 128 for c in body)
    single, part = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)
