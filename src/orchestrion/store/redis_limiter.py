"""Rate-limit state in Redis, shared by every process of a deployment.

Redis rather than PostgreSQL: a limit check happens on every request,
including the polled action-status GET, and must not cost a database write.
Each check is one round trip running a Lua script (atomic). If Redis cannot
be reached, requests are allowed (fail open) and a warning is logged: a
limiter outage must not take the API down.
"""

from __future__ import annotations

import structlog

from orchestrion.domain.ratelimit import Decision

log = structlog.get_logger("orchestrion.ratelimit")

# GCRA on server time (TIME), so processes with skewed clocks agree.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - burst * interval
if allowed_at > now then return math.ceil(allowed_at - now) end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
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
    def __init__(self, url: str, *, timeout_s: float = 0.5, prefix: str = "orchestrion:rl:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._prefix = prefix
        self._hit = self._redis.register_script(_HIT)
        self._enter = self._redis.register_script(_ENTER)

    def __repr__(self) -> str:
        return "RedisLimiter(<url redacted>)"

    async def hit(self, key: str, rate: float, burst: int) -> Decision:
        from redis.exceptions import RedisError

        try:
            wait_ms = int(await self._hit(keys=[self._prefix + key], args=[1000 / rate, burst]))
        except (RedisError, OSError) as error:
            log.warning("ratelimit_backend_unavailable", error=type(error).__name__)
            return Decision(True)
        return Decision(wait_ms == 0, wait_ms)

    async def enter(self, key: str, token: str, limit: int) -> tuple[bool, int]:
        from redis.exceptions import RedisError

        try:
            count = int(await self._enter(keys=[self._prefix + key], args=[token, limit, STALE_MS]))
        except (RedisError, OSError) as error:
            log.warning("ratelimit_backend_unavailable", error=type(error).__name__)
            return True, 0
        return count > 0, abs(count)

    async def leave(self, key: str, token: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.zrem(self._prefix + key, token)
        except (RedisError, OSError) as error:
            log.warning("ratelimit_backend_unavailable", error=type(error).__name__)

    async def close(self) -> None:
        await self._redis.aclose()
