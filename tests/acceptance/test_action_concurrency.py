"""Many Actions at once from many clients: every one ends, none is sent or recorded twice."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.acceptance.actions_support import sandbox_messages, send, sms, wait_terminal
from tests.acceptance.conftest import create_conversation
from tests.conftest import Credentials, LiveServer, sdk_client

pytestmark = pytest.mark.slow

ACTIONS = 200
THREADS = 8
CONVERSATIONS = 20  # 10 actions each, well under the per-conversation rate limit
DRAIN_S = 180.0  # a bound for a slow machine, not a performance claim


def _recipient(i: int) -> str:
    # A few shared new addresses per conversation, so concurrent sends race to create their
    # participant; every 10th goes to a magic number and fails.
    return "+15005550001" if i % 10 == 9 else f"+1415555{i % 3:04d}"


def test_two_hundred_concurrent_actions_each_end_exactly_once(
    server: LiveServer, account: Credentials, configuration_id: str, http: Any
) -> None:
    setup: Any = sdk_client(server, account)
    conversations = [str(create_conversation(setup, configuration_id).id) for _ in range(CONVERSATIONS)]
    clients = [sdk_client(server, account) for _ in range(THREADS)]

    def create(i: int) -> tuple[str, str]:
        conversation_id = conversations[i % CONVERSATIONS]
        action = send(clients[i % THREADS], conversation_id, to=[sms(_recipient(i))], content={"text": f"#{i}"})
        return conversation_id, str(action.id)

    with ThreadPoolExecutor(THREADS) as pool:
        created = list(pool.map(create, range(ACTIONS)))
    # The newest first (dispatch is roughly in order), then a final read of each one.
    wait_terminal(setup, *created[-1], timeout_s=DRAIN_S)
    done = [
        wait_terminal(setup, conversation_id, action_id, timeout_s=DRAIN_S) for conversation_id, action_id in created
    ]

    assert len({action_id for _, action_id in created}) == ACTIONS
    statuses = Counter(a.status for a in done)
    assert statuses == {"COMPLETED": ACTIONS * 9 // 10, "FAILED": ACTIONS // 10}

    messages = sandbox_messages(http, limit="1000")
    assert len(messages) == ACTIONS
    assert {m["actionId"]: m["sid"] for m in messages} == {a.id: a.related["messageSid"] for a in done}

    recorded: Counter[str] = Counter()
    for conversation_id in conversations:
        for communication in setup.conversations.v2.communications(conversation_id).list():
            recorded[communication.resource_id] += 1
    completed = {a.related["messageSid"]: a.related["communicationId"] for a in done if a.status == "COMPLETED"}
    assert recorded == Counter(completed.keys())
    for k, conversation_id in enumerate(conversations):
        # One participant per distinct address: the agent and each recipient, never a duplicate.
        recipients = {_recipient(i) for i in range(k, ACTIONS, CONVERSATIONS)}
        found = list(setup.conversations.v2.participants(conversation_id).list())
        assert len(found) == 1 + len(recipients)
