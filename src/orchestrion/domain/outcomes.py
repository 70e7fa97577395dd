"""What a provider's status report does to an Action and its Communication.

Providers report a downstream message's status in Twilio's vocabulary
(queued, sent, delivered, undelivered, failed, read). ``decide`` turns one
report into one move, given where the Action stands:

=====================  ======================  ==================================
Action                 report                  move
=====================  ======================  ==================================
PENDING                queued                  NOTHING (the send is in flight)
PENDING                sent / delivered / read COMPLETE: record the Communication,
                                               recipients IN_PROGRESS / DELIVERED
                                               / READ
PENDING                failed / undelivered    FAIL with "<code>: <message>"
COMPLETED              sent ... undelivered    DELIVERY: move recipients forward
                                               (``lifecycle.next_delivery_status``)
COMPLETED              queued                  NOTHING
FAILED                 anything                NOTHING (terminal is final)
=====================  ======================  ==================================

So duplicate, late and out-of-order reports are absorbed: a ``delivered``
before ``sent`` completes the Action with DELIVERED recipients, a late
``sent`` after that changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from orchestrion.domain.lifecycle import action_is_terminal, next_delivery_status
from orchestrion.domain.models import ActionStatus


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    READ = "read"


# The recipients' deliveryStatus each report means.
DELIVERY_STATUS: dict[MessageStatus, str] = {
    MessageStatus.SENT: "IN_PROGRESS",
    MessageStatus.DELIVERED: "DELIVERED",
    MessageStatus.READ: "READ",
    MessageStatus.UNDELIVERED: "FAILED",
    MessageStatus.FAILED: "FAILED",
}

FAILURES = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One status report from a channel provider about a message it sent.

    ``idempotency_key`` is the key the dispatcher gave ``send`` (the Action
    id), when the provider can echo it back (the sandbox does; a real provider
    can carry it in its status callback URL). It lets a report that outruns
    the storing of ``messageSid`` still find its Action.

    ``account_sid`` is the account a report from outside was authenticated as
    (a status callback signed with that account's token): such a report only
    ever finds that account's Actions. None is for the built-in sandbox, which
    reports on messages it recorded itself.
    """

    message_sid: str
    status: MessageStatus
    error_code: int | None = None
    error_message: str | None = None
    idempotency_key: str | None = None
    account_sid: str | None = None


class Move(StrEnum):
    NOTHING = "NOTHING"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    DELIVERY = "DELIVERY"


@dataclass(frozen=True, slots=True)
class Decision:
    move: Move
    delivery_status: str | None = None  # COMPLETE, DELIVERY
    failure_reason: str | None = None  # FAIL


NOTHING = Decision(Move.NOTHING)


def failure_reason(code: int | None, message: str | None, status: MessageStatus | None = None) -> str:
    """``"21211: The 'To' number ... is not a valid phone number."``: Twilio's code, then its text."""
    text = (message or "").strip() or (
        f"The message was {status}" if status is not None else "The message could not be sent"
    )
    return f"{code}: {text}" if code is not None else text


def decide(action_status: ActionStatus, report: StatusReport) -> Decision:
    if action_is_terminal(action_status):
        if action_status is ActionStatus.COMPLETED and report.status in DELIVERY_STATUS:
            return Decision(Move.DELIVERY, delivery_status=DELIVERY_STATUS[report.status])
        return NOTHING
    if report.status in FAILURES:
        reason = failure_reason(report.error_code, report.error_message, report.status)
        return Decision(Move.FAIL, failure_reason=reason)
    if report.status in DELIVERY_STATUS:
        return Decision(Move.COMPLETE, delivery_status=DELIVERY_STATUS[report.status])
    return NOTHING


def advance_recipients(current: Sequence[str | None], reported: str) -> list[str | None] | None:
    """Each recipient's delivery status after a report; None when nothing changes."""
    moved = [next_delivery_status(status, reported) for status in current]
    if all(m is None for m in moved):
        return None
    return [status if m is None else m for status, m in zip(current, moved, strict=True)]
