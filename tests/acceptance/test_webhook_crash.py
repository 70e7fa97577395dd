"""A worker killed (SIGKILL) in the middle of delivering a callback: the event still arrives, flagged as a repeat.

The API server runs without its in-process dispatcher, on a database of its
own, so the only workers are the real ``orchestrion worker`` processes started
here. The receiver holds the first request open, so the kill lands while the
worker waits for the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import create_conversation, make_configuration
from tests.acceptance.processes import Processes
from tests.acceptance.webhook_receiver import Received, Receiver
from tests.conftest import LiveServer, new_account, sdk_client

pytestmark = pytest.mark.slow

INTERRUPTED = "no outcome recorded: the worker was interrupted (the request may have reached the receiver)"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_callback_cut_off_by_a_killed_worker_arrives_again_with_the_same_token(
    private_database_url: str, api_only: LiveServer, processes: Processes, receiver: Receiver
) -> None:
    url = private_database_url
    release = threading.Event()

    def answer(r: Received) -> int:
        if r.number == 1:
            release.wait(timeout=60)  # held open: the worker is killed while it waits
        return 200

    receiver.answer = answer
    creds = new_account(url)
    client: Any = sdk_client(api_only, creds)
    configuration_id = make_configuration(url, creds.account_sid, statusCallbacks=[{"url": receiver.url()}])
    conversation_id = create_conversation(client, configuration_id).id
    log_url = f"{api_only.url}/sandbox/conversations/{conversation_id}/webhooks"
    auth = (creds.account_sid, creds.auth_token)

    try:
        first = processes.worker(
            "--database-url", url, ORCHESTRION_JOB_LEASE_MS="2000", ORCHESTRION_WEBHOOK_TIMEOUT_S="1.5"
        )
        [cut_off] = receiver.wait_for_events(1, what="the first worker's request")
        processes.kill(first)
        [entry] = httpx.get(log_url, auth=auth, timeout=10).json()["webhooks"]
        assert (entry["status"], entry["attempts"]) == ("PENDING", [])  # nothing recorded: it died waiting

        processes.worker("--database-url", url, ORCHESTRION_JOB_LEASE_MS="20000")
        _, again = receiver.wait_for_events(2, what="the event delivered by the second worker")

        def delivered() -> dict[str, Any] | None:
            [entry] = httpx.get(log_url, auth=auth, timeout=10).json()["webhooks"]
            return entry if entry["status"] == "DELIVERED" else None

        entry = wait_for(delivered, "the delivery log to show the event delivered", timeout_s=60)
    finally:
        release.set()

    assert again.token == cut_off.token == entry["idempotencyToken"]  # the receiver can drop the repeat
    assert again.body == cut_off.body
    assert again.headers["x-request-id"] != cut_off.headers["x-request-id"]
    assert again.signed_with(creds.auth_token)
    assert [(a["number"], a["statusCode"], a["error"]) for a in entry["attempts"]] == [
        (1, None, INTERRUPTED),
        (2, 200, None),
    ]
