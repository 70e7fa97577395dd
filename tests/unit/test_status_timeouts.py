"""Status timeouts: which apply, and what a timer does when it fires."""

from __future__ import annotations

from orchestrion.domain.models import ConversationStatus
from orchestrion.domain.timeouts import MINUTE_MS, StatusTimeouts, decide, next_due, timeouts_of

ACTIVE, INACTIVE, CLOSED = ConversationStatus.ACTIVE, ConversationStatus.INACTIVE, ConversationStatus.CLOSED
FIVE_SIXTY = StatusTimeouts(inactive_ms=5 * MINUTE_MS, closed_ms=60 * MINUTE_MS)


def test_timeouts_are_read_in_minutes_from_the_channel_settings() -> None:
    configuration = {"channelSettings": {"SMS": {"statusTimeouts": {"inactive": 5, "closed": 60}}}}
    assert timeouts_of(configuration) == FIVE_SIXTY


def test_the_smallest_timeout_of_each_kind_across_channels_applies() -> None:
    configuration = {
        "channelSettings": {
            "SMS": {"statusTimeouts": {"inactive": 5, "closed": 600}},
            "WHATSAPP": {"statusTimeouts": {"inactive": 30, "closed": 60}},
            "RCS": {"captureRules": []},
        }
    }
    assert timeouts_of(configuration) == FIVE_SIXTY


def test_a_configuration_without_timeouts_has_none() -> None:
    assert not timeouts_of({}).any
    assert not timeouts_of({"channelSettings": {"SMS": {}}}).any
    assert not timeouts_of({"channelSettings": {"SMS": {"statusTimeouts": {"inactive": "5"}}}}).any


def test_an_active_conversation_is_next_looked_at_when_it_would_become_inactive() -> None:
    assert next_due(ACTIVE, 1000, FIVE_SIXTY) == 1000 + 5 * MINUTE_MS


def test_an_inactive_conversation_is_next_looked_at_when_it_would_close() -> None:
    assert next_due(INACTIVE, 1000, FIVE_SIXTY) == 1000 + 60 * MINUTE_MS


def test_a_closed_conversation_needs_no_timer() -> None:
    assert next_due(CLOSED, 1000, FIVE_SIXTY) is None


def test_inactive_only_timeouts_stop_at_inactive() -> None:
    timeouts = StatusTimeouts(inactive_ms=5 * MINUTE_MS)
    decision = decide(ACTIVE, 0, timeouts, 5 * MINUTE_MS)
    assert decision.status is INACTIVE and decision.next_due_ms is None


def test_a_quiet_active_conversation_becomes_inactive_and_waits_for_closing() -> None:
    decision = decide(ACTIVE, 0, FIVE_SIXTY, 5 * MINUTE_MS)
    assert decision.status is INACTIVE
    assert decision.next_due_ms == 60 * MINUTE_MS


def test_activity_since_the_timer_was_set_only_moves_the_timer() -> None:
    decision = decide(ACTIVE, 3 * MINUTE_MS, FIVE_SIXTY, 5 * MINUTE_MS)
    assert decision.status is None
    assert decision.next_due_ms == 8 * MINUTE_MS


def test_a_conversation_quiet_past_both_timeouts_closes_at_once() -> None:
    decision = decide(ACTIVE, 0, FIVE_SIXTY, 61 * MINUTE_MS)
    assert decision.status is CLOSED and decision.next_due_ms is None


def test_a_timer_firing_on_a_closed_conversation_does_nothing() -> None:
    decision = decide(CLOSED, 0, FIVE_SIXTY, 61 * MINUTE_MS)
    assert decision.status is None and decision.next_due_ms is None
