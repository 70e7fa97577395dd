"""Limiter backends: in-process memory and shared Redis behave alike."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.services.ratelimits import Limiter, MemoryLimiter
from orchestrion.store.redis_limiter import RedisLimiter
from tests.conftest import IN_CI

REDIS_URL = os.environ.get("ORCHESTRION_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

pytestmark = pytest.mark.asyncio


async def _redis_or_skip() -> RedisLimiter:
    import redis.asyncio as redis

    probe = redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await probe.ping()
    except Exception as error:  # noqa: BLE001 - any failure means "no Redis here"
        message = f"Redis not reachable at {REDIS_URL} ({type(error).__name__})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the Redis tests", pytrace=False)
        pytest.skip(f"{message}; set ORCHESTRION_TEST_REDIS_URL to run the Redis tests")
    finally:
        await probe.aclose()
    return RedisLimiter(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:")


@pytest_asyncio.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    backend: Limiter = MemoryLimiter() if request.param == "memory" else await _redis_or_skip()
    yield backend
    await backend.close()


async def test_bucket_allows_its_burst_then_refuses(limiter: Limiter) -> None:
    decisions = [await limiter.hit("k", rate=1.0, burst=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after_ms <= 1000


@pytest.mark.parametrize("rate", [3.0, 7.0, 29.0, 30.0])
async def test_a_burst_taken_at_once_gets_every_token_at_rates_that_do_not_divide_a_second(
    limiter: Limiter, rate: float
) -> None:
    burst = int(rate)
    decisions = [await limiter.hit(f"r{rate}", rate=rate, burst=burst) for _ in range(burst)]
    assert all(d.allowed for d in decisions)


async def test_buckets_of_different_keys_are_independent(limiter: Limiter) -> None:
    assert (await limiter.hit("a", rate=1.0, burst=1)).allowed
    assert (await limiter.hit("b", rate=1.0, burst=1)).allowed
    assert not (await limiter.hit("a", rate=1.0, burst=1)).allowed


async def test_in_flight_limit_refuses_past_the_limit_and_frees_on_leave(limiter: Limiter) -> None:
    assert await limiter.enter("c", "t1", limit=2) == (True, 1)
    assert await limiter.enter("c", "t2", limit=2) == (True, 2)
    assert (await limiter.enter("c", "t3", limit=2))[0] is False
    await limiter.leave("c", "t1")
    assert (await limiter.enter("c", "t3", limit=2))[0] is True


async def test_unreachable_redis_fails_open() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0", timeout_s=0.2)
    try:
        assert (await limiter.hit("k", rate=1.0, burst=1)).allowed
        assert (await limiter.enter("k", "t", limit=1))[0] is True
    finally:
        await limiter.close()


async def test_an_unreachable_redis_fails_open_with_one_warning_per_outage() -> None:
    from structlog.testing import capture_logs

    from tests.conftest import free_port

    unreachable = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0", retry_s=3600)
    try:
        with capture_logs() as logs:
            decisions = [await unreachable.hit("k", rate=0.01, burst=1) for _ in range(3)]
            entered = await unreachable.enter("k", "token", limit=1)
            await unreachable.leave("k", "token")
    finally:
        await unreachable.close()
    assert [d.allowed for d in decisions] == [True, True, True] and entered == (True, 0)
    assert [e["event"] for e in logs] == ["ratelimit_backend_unavailable"]
