"""What one provider status report does to an Action (domain.outcomes, pure)."""

from __future__ import annotations

import pytest

from orchestrion.domain.models import ActionStatus
from orchestrion.domain.outcomes import (
    Decision,
    MessageStatus,
    Move,
    StatusReport,
    advance_recipients,
    decide,
    failure_reason,
)

SID = "SM0123456789abcdef0123456789abcdef"


def report(status: MessageStatus, code: int | None = None, message: str | None = None) -> StatusReport:
    return StatusReport(SID, status, error_code=code, error_message=message)


@pytest.mark.parametrize(
    ("status", "delivery"),
    [(MessageStatus.SENT, "IN_PROGRESS"), (MessageStatus.DELIVERED, "DELIVERED"), (MessageStatus.READ, "READ")],
)
def test_a_success_report_completes_a_pending_action(status: MessageStatus, delivery: str) -> None:
    assert decide(ActionStatus.PENDING, report(status)) == Decision(Move.COMPLETE, delivery_status=delivery)


@pytest.mark.parametrize("status", [MessageStatus.FAILED, MessageStatus.UNDELIVERED])
def test_a_failure_report_fails_a_pending_action_with_code_and_text(status: MessageStatus) -> None:
    decision = decide(ActionStatus.PENDING, report(status, 21211, "The 'To' number +15005550001 is not valid."))
    assert decision == Decision(Move.FAIL, failure_reason="21211: The 'To' number +15005550001 is not valid.")


def test_queued_changes_nothing_while_pending() -> None:
    assert decide(ActionStatus.PENDING, report(MessageStatus.QUEUED)).move is Move.NOTHING


@pytest.mark.parametrize(
    ("status", "delivery"),
    [
        (MessageStatus.SENT, "IN_PROGRESS"),
        (MessageStatus.DELIVERED, "DELIVERED"),
        (MessageStatus.READ, "READ"),
        (MessageStatus.UNDELIVERED, "FAILED"),
        (MessageStatus.FAILED, "FAILED"),
    ],
)
def test_reports_after_completion_only_move_delivery(status: MessageStatus, delivery: str) -> None:
    assert decide(ActionStatus.COMPLETED, report(status)) == Decision(Move.DELIVERY, delivery_status=delivery)


def test_queued_after_completion_changes_nothing() -> None:
    assert decide(ActionStatus.COMPLETED, report(MessageStatus.QUEUED)).move is Move.NOTHING


@pytest.mark.parametrize("status", list(MessageStatus))
def test_a_failed_action_never_changes(status: MessageStatus) -> None:
    assert decide(ActionStatus.FAILED, report(status, 30003, "late")).move is Move.NOTHING


def test_failure_reason_without_a_code_is_the_text_alone() -> None:
    assert failure_reason(None, "Carrier rejected the message") == "Carrier rejected the message"


def test_failure_reason_without_text_says_what_happened() -> None:
    assert failure_reason(30003, None, MessageStatus.UNDELIVERED) == "30003: The message was undelivered"
    assert failure_reason(None, "  ") == "The message could not be sent"


def test_delivery_moves_every_recipient_forward() -> None:
    assert advance_recipients(["IN_PROGRESS", "IN_PROGRESS"], "DELIVERED") == ["DELIVERED", "DELIVERED"]


def test_a_late_sent_after_delivered_changes_nothing() -> None:
    assert advance_recipients(["DELIVERED"], "IN_PROGRESS") is None


def test_a_duplicate_report_changes_nothing() -> None:
    assert advance_recipients(["DELIVERED"], "DELIVERED") is None


def test_failed_replaces_anything_but_read() -> None:
    assert advance_recipients(["DELIVERED", "READ", "IN_PROGRESS"], "FAILED") == ["FAILED", "READ", "FAILED"]


def test_nothing_moves_a_failed_recipient_back() -> None:
    assert advance_recipients(["FAILED"], "DELIVERED") is None
    assert advance_recipients(["FAILED"], "READ") is None


def test_out_of_order_delivered_then_sent_keeps_delivered() -> None:
    """delivered before sent: the Action completes with DELIVERED; the late sent is absorbed."""
    first = decide(ActionStatus.PENDING, report(MessageStatus.DELIVERED))
    assert first == Decision(Move.COMPLETE, delivery_status="DELIVERED")
    late = decide(ActionStatus.COMPLETED, report(MessageStatus.SENT))
    assert late.delivery_status is not None
    assert advance_recipients(["DELIVERED"], late.delivery_status) is None
