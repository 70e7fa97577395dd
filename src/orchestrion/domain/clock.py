"""Time as the orchestrator sees it.

Everything that reads the time takes a ``Clock`` so that the test clock (an
emulator feature) can move time forward without sleeping. Times are integer
milliseconds since the epoch, UTC.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class WallClock:
    """Real wall-clock time, which the test clock never moves: leases and retry backoffs run on it."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class SystemClock:
    """Wall-clock time, plus an offset that the test clock may advance: domain time."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms


def to_wire(ms: int) -> str:
    """``2026-03-30T10:30:00Z``: UTC, whole seconds, the form the SDKs parse."""
    return _format_second(ms // 1000)


@functools.lru_cache(maxsize=8192)
def _format_second(second: int) -> str:
    # Polled resources repeat the same few timestamps: format each second once.
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_wire(value: str) -> int:
    """Parse an RFC 3339 timestamp into epoch milliseconds (raises ValueError)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    return int(parsed.timestamp() * 1000)
