"""Rate-limit state in Redis, shared by every process of a deployment.

Redis rather than PostgreSQL: a limit check happens on every request,
including the polled action-status GET, and must not cost a database write.
Each check is one round trip running a Lua script (atomic). If Redis cannot
be reached, requests are allowed (fail open): a limiter outage must not take
the API down. The outage is logged once (``ratelimit_backend_unavailable``,
a warning) and its end once (``ratelimit_backend_restored``); while it lasts,
Redis is tried again at most every ``retry_s``, so requests do not each wait
for a connection attempt. Back in service, the limits are shared again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from orchestrion.domain.ratelimit import Decision

log = structlog.get_logger("orchestrion.ratelimit")

# GCRA on server time (TIME), so processes with skewed clocks agree. In integer microseconds (exact in
# Lua's doubles up to 2^53): in float milliseconds a burst within one tick could lose its last token,
# and the stored value was rounded by tostring as well.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - burst * interval
if allowed_at > now then return math.ceil((allowed_at - now) / 1000) end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""

# In-flight requests as a sorted set scored by start time; entries older than
# the stale window (a crashed process never left) are dropped first.
_ENTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[2]) then return -count end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return count + 1
"""

STALE_MS = 120_000


class RedisLimiter:
    def __init__(
        self, url: str, *, timeout_s: float = 0.5, retry_s: float = 1.0, prefix: str = "orchestrion:rl:"
    ) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # One immediate reconnect, for a pooled connection that went stale (Redis restarted); no
        # more: redis-py's default (10 retries, backing off up to 1 s) would hold every request
        # for seconds while Redis is down, when failing open must be quick.
        self._redis = redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1)
        )
        self._prefix = prefix
        self._hit = self._redis.register_script(_HIT)
        self._enter = self._redis.register_script(_ENTER)
        self._retry_s = retry_s
        self._down_since: float | None = None  # monotonic time of the failure that started an outage
        self._next_try = 0.0

    def __repr__(self) -> str:
        return "RedisLimiter(<url redacted>)"

    async def hit(self, key: str, rate: float, burst: int) -> Decision:
        wait_ms = await self._call(
            lambda: self._hit(keys=[self._prefix + key], args=[max(1, round(1_000_000 / rate)), burst])
        )
        return Decision(True) if wait_ms is None else Decision(int(wait_ms) == 0, int(wait_ms))

    async def enter(self, key: str, token: str, limit: int) -> tuple[bool, int]:
        count = await self._call(lambda: self._enter(keys=[self._prefix + key], args=[token, limit, STALE_MS]))
        return (True, 0) if count is None else (int(count) > 0, abs(int(count)))

    async def leave(self, key: str, token: str) -> None:
        await self._call(lambda: self._redis.zrem(self._prefix + key, token))

    async def _call(self, command: Callable[[], Awaitable[Any]]) -> Any | None:
        """The command's answer; None when Redis cannot be reached (fail open)."""
        from redis.exceptions import RedisError

        now = time.monotonic()
        if self._down_since is not None and now < self._next_try:
            return None  # not sent: Redis was unreachable a moment ago
        try:
            answer = await command()
        except (RedisError, OSError) as error:
            if self._down_since is None:
                self._down_since = now
                log.warning(
                    "ratelimit_backend_unavailable",
                    error=type(error).__name__,
                    consequence="requests are not rate-limited until Redis is back",
                )
            self._next_try = now + self._retry_s
            return None
        if self._down_since is not None:
            log.info("ratelimit_backend_restored", unavailable_s=round(now - self._down_since, 1))
            self._down_since = None
        return answer

    async def close(self) -> None:
        await self._redis.aclose()
