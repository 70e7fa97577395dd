"""The in-process GCRA limiter, on a clock that does not move (every burst is taken within one tick)."""

from __future__ import annotations

import asyncio

import pytest

from orchestrion.services.ratelimits import MemoryLimiter


def _frozen() -> int:
    return 5_000_000_000_123


@pytest.mark.parametrize("rate", [3.0, 7.0, 29.0, 30.0, 0.3])
def test_a_whole_burst_is_allowed_within_one_clock_tick(rate: float) -> None:
    limiter = MemoryLimiter(clock_ns=_frozen)
    burst = max(1, round(rate + 0.5))

    async def take() -> list[bool]:
        return [(await limiter.hit("k", rate, burst)).allowed for _ in range(burst + 1)]

    assert asyncio.run(take()) == [True] * burst + [False]


def test_the_refusal_says_when_the_next_token_comes() -> None:
    limiter = MemoryLimiter(clock_ns=_frozen)

    async def take() -> int:
        await limiter.hit("k", 4.0, 1)
        return (await limiter.hit("k", 4.0, 1)).retry_after_ms

    assert asyncio.run(take()) == 250
