"""Redis stopped while two API processes share their rate limits through it: limits fail open, then are shared again.

Two ``orchestrion serve`` processes share a redis-server of the case's own.
The per-conversation action limit is 5 per 500 s, so a probe of 10 Actions on
one conversation, alternating between the processes, shows what the limiter
does: 5 accepted when the processes share one limit, 10 when limits are off
(fail open, while Redis is down). A client load runs throughout on other
conversations (5 Actions at most each, so never limited: the load opens new
conversations when those are spent) and loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.acceptance.processes import Processes
from tests.chaos.support import ACTION_BODY, Load, RedisServer, count, setup_conversations, wait_until
from tests.conftest import new_account

pytestmark = pytest.mark.slow

LIMITS = {
    "ORCHESTRION_ACTIONS_PER_CONVERSATION_PER_SECOND": "0.01",
    "ORCHESTRION_RATE_LIMIT_BURST": "5",
    "ORCHESTRION_LOG_LEVEL": "info",
}
UNAVAILABLE = "ratelimit_backend_unavailable"
RESTORED = "ratelimit_backend_restored"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def _probe(urls: list[str], auth: tuple[str, str], conversation_id: str) -> list[int]:
    """10 Actions on one conversation, alternating between the processes: their statuses."""
    statuses = []
    with httpx.Client(auth=auth, timeout=10) as http:
        for n in range(10):
            url = f"{urls[n % 2]}/v2/Conversations/{conversation_id}/Actions"
            statuses.append(http.post(url, json=ACTION_BODY).status_code)
    return statuses


def test_redis_stopped_mid_load_fails_open_with_one_warning_then_limits_are_shared_again(
    private_database_url: str,
    redis_server: RedisServer,
    chaos_processes: Callable[[str], Processes],
    figures: Callable[[str], None],
) -> None:
    url = private_database_url
    processes = chaos_processes(url)
    first, api_a = processes.serve_process(ORCHESTRION_REDIS_URL=redis_server.url, **LIMITS)
    second, api_b = processes.serve_process("--no-worker", ORCHESTRION_REDIS_URL=redis_server.url, **LIMITS)
    creds = new_account(url)
    auth = (creds.account_sid, creds.auth_token)
    probes = setup_conversations(api_a, auth, 3)
    conversations = setup_conversations(api_a, auth, 100)

    load = Load([api_a, api_b], auth, conversations, per_conversation=5).start()
    try:
        load.wait_accepted(20)
        shared = _probe([api_a, api_b], auth, probes[0])
        redis_server.stop()
        fail_open = _probe([api_a, api_b], auth, probes[1])
        load.wait_accepted(len(load.accepted) + 20)
        redis_server.start()
        for proc in (first, second):  # each process finds Redis again (the load keeps them busy)
            wait_until(lambda p=proc: RESTORED in processes.log(p), "the limiter to find Redis again")
        shared_again = _probe([api_a, api_b], auth, probes[2])
    finally:
        load.stop()

    outcome = count(url, load.accepted, load.conversations)
    warnings = [processes.log(p).count(UNAVAILABLE) for p in (first, second)]
    figures(
        outcome.line(
            probe_shared=shared.count(202),
            probe_redis_down=fail_open.count(202),
            probe_shared_again=shared_again.count(202),
            warnings=warnings,
            bad_5xx=len(load.bad_5xx),
        )
    )
    assert (shared.count(202), shared.count(429)) == (5, 5)
    assert fail_open == [202] * 10
    assert (shared_again.count(202), shared_again.count(429)) == (5, 5)
    assert warnings == [1, 1]
    assert load.bad_5xx == [] and load.statuses[429] == 0
    assert (outcome.lost, outcome.duplicated, outcome.failed) == (0, 0, 0)
