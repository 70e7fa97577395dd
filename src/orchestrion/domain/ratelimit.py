"""Rate-limit settings and decisions (pure values)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_second: float = 0.0  # 0: unlimited
    burst: int = 0  # extra requests allowed at once; 0: one second's worth
    concurrent_requests: int = 0  # 0: unlimited
    actions_per_conversation_per_second: float = 30.0  # Twilio's documented default

    def burst_for(self, rate: float) -> int:
        return self.burst or max(1, math.ceil(rate))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_ms: int = 0
