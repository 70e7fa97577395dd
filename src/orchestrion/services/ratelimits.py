"""Rate limits: per-account requests per second and concurrent requests, and
per-conversation actions per second.

Every bucket is keyed by the caller's account (``acct:<AccountSid>:...``) and
is drawn from only once that account is established: the account buckets by
the gate, after authentication; a conversation's action bucket by the action
service, after it loaded the conversation in the caller's account. So one
account can never spend another's limits, and a conversation that is not the
caller's is a 404 however fast it is asked for.

The limiter is a port: ``MemoryLimiter`` keeps state in this process (right
for one process); ``store.redis_limiter.RedisLimiter`` shares it between
processes. Both use GCRA (a token bucket kept as one timestamp per key).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

from orchestrion.domain.errors import RateLimited
from orchestrion.domain.ratelimit import Decision, Limits
from orchestrion.services.metrics import (
    ACTIONS_PER_CONVERSATION,
    CONCURRENT_REQUESTS,
    REQUESTS_PER_SECOND,
    Metrics,
    NoMetrics,
)


class Limiter(Protocol):
    async def hit(self, key: str, rate: float, burst: int) -> Decision:
        """Take one token from ``key``'s bucket (``rate`` per second, ``burst`` deep)."""
        ...

    async def enter(self, key: str, token: str, limit: int) -> tuple[bool, int]:
        """Count one more request in flight under ``key``: (allowed, now in flight)."""
        ...

    async def leave(self, key: str, token: str) -> None: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """GCRA in integer nanoseconds: with floats, a burst taken within one clock tick could be
    refused its last token (``now + 3 * (1000 / 3)`` is not ``now + 1000 / 3 + 1000 / 3 + 1000 / 3``)."""

    def __init__(self, clock_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self._clock_ns = clock_ns
        self._tat: dict[str, int] = {}
        self._inflight: dict[str, set[str]] = {}

    async def hit(self, key: str, rate: float, burst: int) -> Decision:
        now = self._clock_ns()
        interval = max(1, round(1_000_000_000 / rate))
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + interval
        allowed_at = new_tat - burst * interval
        if allowed_at > now:
            return Decision(False, math.ceil((allowed_at - now) / 1_000_000))
        self._tat[key] = new_tat
        if len(self._tat) > 100_000:
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return Decision(True)

    async def enter(self, key: str, token: str, limit: int) -> tuple[bool, int]:
        current = self._inflight.setdefault(key, set())
        if len(current) >= limit:
            return False, len(current)
        current.add(token)
        return True, len(current)

    async def leave(self, key: str, token: str) -> None:
        current = self._inflight.get(key)
        if current is not None:
            current.discard(token)
            if not current:
                del self._inflight[key]

    async def close(self) -> None:
        return None


class ActionLimit(Protocol):
    """What the action service asks before accepting an action in a conversation it found in the account."""

    async def conversation_action(self, account_sid: str, conversation_id: str) -> None:
        """Raise RateLimited when the conversation's action rate is spent."""
        ...


class RateLimits:
    """The policy: which buckets a request draws from, and the 429 it gets."""

    def __init__(self, limiter: Limiter, limits: Limits, metrics: Metrics | None = None) -> None:
        self.limiter = limiter
        self.limits = limits
        self.metrics = metrics or NoMetrics()  # refusals are counted by limit

    async def account_request(self, account_sid: str) -> None:
        rate = self.limits.requests_per_second
        if rate <= 0:
            return
        decision = await self.limiter.hit(f"acct:{account_sid}:rps", rate, self.limits.burst_for(rate))
        if not decision.allowed:
            self.metrics.rate_limited(REQUESTS_PER_SECOND)
            raise RateLimited(
                f"Too many requests for account {account_sid}: the limit is {rate:g} per second",
                retry_after=max(1, math.ceil(decision.retry_after_ms / 1000)),
            )

    async def enter(self, account_sid: str, token: str) -> bool:
        """Count a request in flight; False when no limit applies (nothing to release)."""
        limit = self.limits.concurrent_requests
        if limit <= 0:
            return False
        allowed, inflight = await self.limiter.enter(f"acct:{account_sid}:inflight", token, limit)
        if not allowed:
            self.metrics.rate_limited(CONCURRENT_REQUESTS)
            raise RateLimited(
                f"Too many concurrent requests for account {account_sid}: the limit is {limit}",
                retry_after=1,
                concurrent=inflight,
            )
        return True

    async def leave(self, account_sid: str, token: str) -> None:
        await self.limiter.leave(f"acct:{account_sid}:inflight", token)

    async def conversation_action(self, account_sid: str, conversation_id: str) -> None:
        """Draw one action from a conversation's bucket; call it only once the conversation is the caller's."""
        rate = self.limits.actions_per_conversation_per_second
        if rate <= 0:
            return
        key = f"acct:{account_sid}:conv:{conversation_id}:actions"
        decision = await self.limiter.hit(key, rate, self.limits.burst_for(rate))
        if not decision.allowed:
            self.metrics.rate_limited(ACTIONS_PER_CONVERSATION)
            raise RateLimited(
                f"Too many actions for conversation {conversation_id}: the limit is {rate:g} per second",
                retry_after=max(1, math.ceil(decision.retry_after_ms / 1000)),
            )
