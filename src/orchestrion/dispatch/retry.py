"""The one retry policy: exponential backoff with full jitter and a cap."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base_ms: int = 200
    cap_ms: int = 60_000

    def delay_ms(self, attempt: int, rng: random.Random | None = None, *, at_least_ms: int | None = None) -> int:
        """Delay before retry number ``attempt`` (1-based): uniform in [ceiling/2, ceiling].

        ``at_least_ms`` (a downstream's ``Retry-After``) raises the delay to it, up to the cap:
        a server that asks for a pause gets it, but never holds a job longer than any backoff would.
        """
        ceiling = min(self.cap_ms, self.base_ms * (2 ** max(0, attempt - 1)))
        draw = (rng or random).random()
        delay = int(ceiling / 2 + draw * ceiling / 2)
        if at_least_ms is not None:
            delay = max(delay, min(at_least_ms, self.cap_ms))
        return delay
