"""Job classes: webhook deliveries stuck on a slow receiver do not hold up sends.

A private server (its own database) with the default 16 slots per class. Two
hundred conversations announce themselves to a receiver that holds every
request open; an Action in an unrelated conversation still completes while
all of them are held, and none has been answered yet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import send, wait_terminal
from tests.acceptance.conftest import create_conversation, make_configuration
from tests.acceptance.webhook_receiver import Received, Receiver
from tests.conftest import LiveServer, new_account, sdk_client, test_settings

pytestmark = pytest.mark.slow

DELIVERIES = 200
WEBHOOK_SLOTS = 16


@pytest.fixture
def held_receiver() -> Iterator[tuple[Receiver, threading.Event]]:
    release = threading.Event()

    def answer(_r: Received) -> int:
        release.wait(timeout=120)
        return 204

    receiver = Receiver(answer=answer)
    yield receiver, release
    release.set()
    receiver.close()


@pytest.fixture
def private_server(private_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(
        test_settings(private_database_url, webhook_timeout_s=120.0, worker_concurrency_webhooks=WEBHOOK_SLOTS)
    ).start()
    yield live
    live.stop()


def test_an_action_completes_while_every_webhook_slot_waits_on_a_slow_receiver(
    private_database_url: str, private_server: LiveServer, held_receiver: tuple[Receiver, threading.Event]
) -> None:
    receiver, release = held_receiver
    creds = new_account(private_database_url)
    client: Any = sdk_client(private_server, creds)
    noisy = make_configuration(private_database_url, creds.account_sid, statusCallbacks=[{"url": receiver.url()}])
    quiet = make_configuration(private_database_url, creds.account_sid)
    with httpx.Client(base_url=private_server.url, auth=(creds.account_sid, creds.auth_token), timeout=30) as http:
        for _ in range(DELIVERIES):  # each announces CONVERSATION_CREATED: 200 deliveries in the outbox
            assert http.post("/v2/Conversations", json={"configurationId": noisy}).status_code == 201
    receiver.wait_for_events(WEBHOOK_SLOTS, what="every webhook slot to be taken")
    conversation_id = create_conversation(client, quiet).id

    done = wait_terminal(client, conversation_id, send(client, conversation_id).id)

    assert done.status == "COMPLETED"
    assert receiver.answered() == []  # every delivery taken so far is still held
    assert len(receiver.requests()) == WEBHOOK_SLOTS
    release.set()
