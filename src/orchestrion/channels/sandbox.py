"""The sandbox: the built-in carrier that always answers.

``send`` assigns a message SID (``SM`` + 32 hex), keeps the message where
people and tests can read it (``GET /sandbox/messages``) and starts the
message's timeline: ``queued`` at once, then one status per step, each step
``ORCHESTRION_SANDBOX_STEP_MS`` apart (default 50 ms):

- an ordinary recipient: queued → sent → delivered;
- Twilio's magic test numbers fail at the first step, with Twilio's code
  and text: +15005550001 (21211 invalid 'To' number), +15005550002 (21612
  cannot route), +15005550003 (21408 no international permission),
  +15005550004 (21610 unsubscribed recipient), +15005550009 (21614 not a
  mobile number);
- Orchestrion's own magic numbers (not Twilio's): +15005550010 is sent, then
  undelivered with 30003 (unreachable handset), so a FAILED delivery after a
  COMPLETED Action can be seen; +15005550011 is sent, delivered, then read.

Magic numbers work on every channel (``whatsapp:+15005550001`` too); on a
multi-recipient CHAT message the first magic recipient decides.

Per-message knobs, in the Action's ``channelSettings``::

    {"sandbox": {"stepMs": 2000,          # this message's step (0 .. 3600000)
                 "sendDelayMs": 3000,     # the send itself takes this long (0 .. 60000)
                 "failFirstAttempts": 2}} # the first N send attempts fail transiently (20503)

Values out of range or of the wrong type are ignored. The sandbox never
touches the database: it keeps messages and schedules its timeline through
``SandboxPort``, which the services implement (``services.sandbox``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrion.channels.base import OutboundMessage, SendReceipt
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import ProviderError
from orchestrion.domain.ids import new_message_sid
from orchestrion.domain.outcomes import MessageStatus, failure_reason

MAX_STEP_MS = 3_600_000
MAX_SEND_DELAY_MS = 60_000
MAX_FAIL_FIRST_ATTEMPTS = 1_000
TRANSIENT_CODE = 20503

# Twilio's magic test numbers: (code, text); {to}, {from_} and {channel} are filled in.
TWILIO_MAGIC_FAILURES: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: {from_} via {channel}.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient {to}."),
    "+15005550009": (21614, "'To' number {to} is not a valid mobile number."),
}
# Orchestrion's own magic numbers.
UNDELIVERED_NUMBER = "+15005550010"
UNDELIVERED_FAILURE = (30003, "Unreachable destination handset.")
READ_NUMBER = "+15005550011"


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One status the sandbox will report, ``after_ms`` after the previous one."""

    status: MessageStatus
    after_ms: int
    error_code: int | None = None
    error_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "afterMs": self.after_ms,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TimelineStep:
        return cls(
            status=MessageStatus(data["status"]),
            after_ms=int(data["afterMs"]),
            error_code=data.get("errorCode"),
            error_message=data.get("errorMessage"),
        )


@dataclass(frozen=True, slots=True)
class SandboxKnobs:
    step_ms: int
    send_delay_ms: int = 0
    fail_first_attempts: int = 0


def _bounded(raw: Any, maximum: int) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    value = int(raw)
    return value if 0 <= value <= maximum else None


def knobs(channel_settings: Mapping[str, Any] | None, default_step_ms: int) -> SandboxKnobs:
    """This message's knobs, from ``channelSettings.sandbox``; anything invalid is ignored."""
    raw = (channel_settings or {}).get("sandbox")
    if not isinstance(raw, Mapping):
        return SandboxKnobs(step_ms=default_step_ms)
    step = _bounded(raw.get("stepMs"), MAX_STEP_MS)
    delay = _bounded(raw.get("sendDelayMs"), MAX_SEND_DELAY_MS)
    fail = _bounded(raw.get("failFirstAttempts"), MAX_FAIL_FIRST_ATTEMPTS)
    return SandboxKnobs(
        step_ms=default_step_ms if step is None else step,
        send_delay_ms=delay or 0,
        fail_first_attempts=fail or 0,
    )


def _number(address: str) -> str:
    """The phone number inside an address: ``whatsapp:+1500...`` → ``+1500...``."""
    return address.rpartition(":")[2]


def magic_failure(channel: Channel, from_address: str, to: str) -> tuple[int, str] | None:
    """Twilio's code and text if ``to`` is one of Twilio's magic failure numbers, else None."""
    number = _number(to)
    magic = TWILIO_MAGIC_FAILURES.get(number)
    if magic is None:
        return None
    code, text = magic
    return code, text.format(to=number, from_=_number(from_address), channel=channel)


def timeline(channel: Channel, from_address: str, to_addresses: Sequence[str], step_ms: int) -> list[TimelineStep]:
    """The statuses a message goes through after ``queued``, decided by its recipients."""
    for to in to_addresses:
        number = _number(to)
        failure = magic_failure(channel, from_address, to)
        if failure is not None:
            return [TimelineStep(MessageStatus.FAILED, step_ms, *failure)]
        if number == UNDELIVERED_NUMBER:
            code, message = UNDELIVERED_FAILURE
            return [
                TimelineStep(MessageStatus.SENT, step_ms),
                TimelineStep(MessageStatus.UNDELIVERED, step_ms, code, message),
            ]
        if number == READ_NUMBER:
            return [
                TimelineStep(MessageStatus.SENT, step_ms),
                TimelineStep(MessageStatus.DELIVERED, step_ms),
                TimelineStep(MessageStatus.READ, step_ms),
            ]
    return [TimelineStep(MessageStatus.SENT, step_ms), TimelineStep(MessageStatus.DELIVERED, step_ms)]


class SandboxPort(Protocol):
    """Where the sandbox keeps what it sent (implemented by ``services.sandbox``)."""

    async def record(
        self, message: OutboundMessage, *, sid: str, idempotency_key: str, steps: Sequence[TimelineStep]
    ) -> str:
        """Keep ``message`` under ``sid`` as ``queued`` and schedule ``steps``, atomically.

        Once per ``idempotency_key``: a repeated call schedules nothing and
        returns the SID kept the first time.
        """
        ...


class SandboxProvider:
    """The ``ChannelProvider`` of the sandbox (the default for every channel)."""

    def __init__(
        self,
        port: SandboxPort,
        *,
        step_ms: int,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._port = port
        self._step_ms = step_ms
        self._sleep = sleep

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        k = knobs(message.channel_settings, self._step_ms)
        if k.send_delay_ms:
            await self._sleep(k.send_delay_ms / 1000)
        if message.attempt <= k.fail_first_attempts:
            text = (
                f"Sandbox: simulated temporary failure "
                f"(attempt {message.attempt}; the first {k.fail_first_attempts} fail)"
            )
            raise ProviderError(failure_reason(TRANSIENT_CODE, text), transient=True, code=TRANSIENT_CODE)
        steps = timeline(message.channel, message.from_address, message.to_addresses, k.step_ms)
        sid = await self._port.record(message, sid=new_message_sid(), idempotency_key=idempotency_key, steps=steps)
        return SendReceipt(sid)
