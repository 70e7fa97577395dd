"""Status timeouts: when a quiet conversation becomes INACTIVE, then CLOSED.

A conversation's configuration snapshot may give, per channel,
``channelSettings.<CHANNEL>.statusTimeouts`` with ``inactive`` and ``closed``
in minutes, both counted from the conversation's last activity (its last
Communication, or its creation when it has none).

Which channel's timeouts apply: the smallest ``inactive`` and the smallest
``closed`` across every channel of the snapshot (each chosen on its own). A
conversation is not tied to one channel, and this choice needs no look-up of
its traffic: a conversation never stays open longer than any of its channels
would keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrion.domain.models import ConversationStatus

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class StatusTimeouts:
    inactive_ms: int | None = None
    closed_ms: int | None = None

    @property
    def any(self) -> bool:
        return self.inactive_ms is not None or self.closed_ms is not None


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value * MINUTE_MS


def _smallest(current: int | None, candidate: int | None) -> int | None:
    if candidate is None:
        return current
    return candidate if current is None else min(current, candidate)


def timeouts_of(configuration: dict[str, Any]) -> StatusTimeouts:
    """The timeouts that apply to a conversation with this configuration snapshot."""
    inactive: int | None = None
    closed: int | None = None
    channels = configuration.get("channelSettings")
    if not isinstance(channels, dict):
        return StatusTimeouts()
    for settings in channels.values():
        if not isinstance(settings, dict):
            continue
        timeouts = settings.get("statusTimeouts")
        if not isinstance(timeouts, dict):
            continue
        inactive = _smallest(inactive, _minutes(timeouts.get("inactive")))
        closed = _smallest(closed, _minutes(timeouts.get("closed")))
    return StatusTimeouts(inactive, closed)


@dataclass(frozen=True, slots=True)
class TimeoutDecision:
    status: ConversationStatus | None  # the new status, or None: no change
    next_due_ms: int | None  # when to look again, or None: no timer needed


def next_due(status: ConversationStatus, last_activity_ms: int, timeouts: StatusTimeouts) -> int | None:
    """The next moment a timeout could change this conversation, or None."""
    if status is ConversationStatus.CLOSED:
        return None
    candidates: list[int] = []
    if status is ConversationStatus.ACTIVE and timeouts.inactive_ms is not None:
        candidates.append(last_activity_ms + timeouts.inactive_ms)
    if timeouts.closed_ms is not None:
        candidates.append(last_activity_ms + timeouts.closed_ms)
    return min(candidates) if candidates else None


def decide(status: ConversationStatus, last_activity_ms: int, timeouts: StatusTimeouts, now_ms: int) -> TimeoutDecision:
    """What the timer does when it fires at ``now_ms``: move the status, and when to fire again.

    CLOSED wins over INACTIVE when both are due (a conversation quiet for longer
    than ``closed`` closes at once). Nothing is due yet: just the next time.
    """
    if status is ConversationStatus.CLOSED:
        return TimeoutDecision(None, None)
    target: ConversationStatus | None = None
    if timeouts.closed_ms is not None and now_ms >= last_activity_ms + timeouts.closed_ms:
        target = ConversationStatus.CLOSED
    elif (
        status is ConversationStatus.ACTIVE
        and timeouts.inactive_ms is not None
        and now_ms >= last_activity_ms + timeouts.inactive_ms
    ):
        target = ConversationStatus.INACTIVE
    return TimeoutDecision(target, next_due(target or status, last_activity_ms, timeouts))
