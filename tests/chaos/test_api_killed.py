"""An API process killed (SIGKILL) while clients create Actions with Idempotency-Keys: exactly one Action per key.

Two ``orchestrion serve --no-worker`` processes and a worker share one
database. The clients retry a key on the other process after a network
error, as a client behind a load balancer does; a request cut off by the kill
may have committed its Action, and its retry must get that same Action back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.acceptance.processes import Processes
from tests.chaos.support import Load, count, setup_conversations
from tests.conftest import new_account

pytestmark = pytest.mark.slow


def test_an_api_process_killed_under_load_leaves_exactly_one_action_per_key(
    private_database_url: str, chaos_processes: Callable[[str], Processes], figures: Callable[[str], None]
) -> None:
    url = private_database_url
    processes = chaos_processes(url)
    victim, api_a = processes.serve_process("--no-worker")
    _, api_b = processes.serve_process("--no-worker")
    processes.worker()
    creds = new_account(url)
    auth = (creds.account_sid, creds.auth_token)
    conversations = setup_conversations(api_b, auth, 40)

    load = Load([api_a, api_b], auth, conversations, threads=8).start()
    try:
        load.wait_accepted(100)
        Processes.kill(victim)
        load.wait_accepted(len(load.accepted) + 100)  # the survivor takes every retried key
    finally:
        load.stop()

    outcome = count(url, load.accepted, conversations)
    figures(outcome.line(network_errors=load.network_errors, bad_5xx=len(load.bad_5xx)))
    assert load.network_errors > 0  # the clients of the killed process did notice
    assert load.bad_5xx == []
    assert (outcome.lost, outcome.duplicated, outcome.failed) == (0, 0, 0)
