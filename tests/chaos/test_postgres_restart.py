"""PostgreSQL stopped and started again while clients create Actions: 503 while it is down, nothing lost.

The case runs its own throwaway cluster (never the machine's shared
server), one ``orchestrion serve`` (API and dispatcher) and a worker on it,
and a client load that retries with Idempotency-Keys. While the database is
down every request is answered 503 (code 20503, Retry-After), never 500;
once it is back, Orchestrion serves again without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from orchestrion.store.migrate import upgrade
from tests.acceptance.processes import Processes
from tests.chaos.support import (
    ACTION_BODY,
    Load,
    PostgresCluster,
    count,
    postgres_cluster,
    setup_conversations,
    wait_until,
)
from tests.conftest import new_account

pytestmark = pytest.mark.slow

DOWN_S = 3.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as c:
        yield c


def test_a_postgres_restart_under_load_answers_503_then_recovers_losing_nothing(
    cluster: PostgresCluster, chaos_processes: Callable[[str], Processes], figures: Callable[[str], None]
) -> None:
    url = cluster.create_database("orchestrion")
    upgrade(url)
    processes = chaos_processes(url)
    _, api = processes.serve_process()
    processes.worker()
    creds = new_account(url)
    auth = (creds.account_sid, creds.auth_token)
    conversations = setup_conversations(api, auth, 40)

    load = Load([api], auth, conversations).start()
    try:
        load.wait_accepted(50)
        cluster.stop()
        with httpx.Client(base_url=api, auth=auth, timeout=10) as http:
            action = f"/v2/Conversations/{conversations[0]}/Actions"
            down = [http.get("/v2/Conversations"), http.post(action, json=ACTION_BODY)]
        time.sleep(DOWN_S)  # the load keeps knocking meanwhile
        cluster.start()
        before = len(load.accepted)
        load.wait_accepted(before + 50)  # recovered, without restarting anything
    finally:
        load.stop()

    outcome = count(url, load.accepted, conversations)
    figures(outcome.line(answers_503=load.statuses[503], bad_5xx=len(load.bad_5xx), network_errors=load.network_errors))
    for answer in down:
        assert answer.status_code == 503 and answer.json()["code"] == 20503 and "Retry-After" in answer.headers
    assert load.bad_5xx == []
    assert (outcome.lost, outcome.duplicated, outcome.failed) == (0, 0, 0)
    wait_until(lambda: processes.children[0].poll() is None, "the server to be still running")
