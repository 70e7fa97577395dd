"""Twilio Agent Connect's own API clients against the live server: every call it makes parses and answers 2xx.

TAC (``twilio-agent-connect``) builds its base URLs itself; pointing a client
at Orchestrion is setting its ``base_url`` (see the README's recipe). These
calls are the ones TAC makes (tac/context/conversation.py, tac/context/memory.py),
with TAC's own request and response models.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from tac.context.conversation import ConversationClient
from tac.context.memory import MemoryClient
from tac.models.conversation import ParticipantAddress, ParticipantRequest

from tests.acceptance.actions_support import AGENT, CUSTOMER
from tests.acceptance.conftest import MEMORY_STORE_ID, create_configuration
from tests.conftest import Credentials, LiveServer, new_api_key

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def api_key(database_url: str, account: Credentials) -> Credentials:
    return new_api_key(database_url, account)


@pytest.fixture
def memory(server: LiveServer, api_key: Credentials) -> MemoryClient:
    client = MemoryClient(MEMORY_STORE_ID, api_key.account_sid, api_key.auth_token)
    client.base_url = server.url
    return client


def conversations(server: LiveServer, api_key: Credentials, configuration_id: str) -> ConversationClient:
    client = ConversationClient(api_key.account_sid, api_key.auth_token, configuration_id)
    client.base_url = server.url
    return client


def sms(address: str) -> list[ParticipantAddress]:
    return [ParticipantAddress(channel="SMS", address=address)]


def test_tac_reads_the_configuration_and_its_memory_store(
    server: LiveServer, api_key: Credentials, client: Any
) -> None:
    configuration_id = create_configuration(client)
    configuration = conversations(server, api_key, configuration_id).get_configuration(configuration_id)
    assert (configuration.id, configuration.memory_store_id) == (configuration_id, MEMORY_STORE_ID)


def test_tac_reuses_an_open_conversation_through_the_409(server: LiveServer, api_key: Credentials, client: Any) -> None:
    orchestrator = conversations(server, api_key, create_configuration(client))
    pair = [
        ParticipantRequest(type="CUSTOMER", addresses=sms(CUSTOMER)),
        ParticipantRequest(type="AI_AGENT", addresses=sms(AGENT)),
    ]
    first, reused = run(orchestrator.create_or_reuse_conversation(pair))
    assert reused is False
    assert run(orchestrator.create_or_reuse_conversation(pair)) == (first, True)


def test_tac_parses_participants_nobody_named_and_replaces_them_with_put(
    server: LiveServer, api_key: Credentials, client: Any, http: Any
) -> None:
    configuration_id = create_configuration(
        client, channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}]}}
    )
    conversation_id = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT}).json()["conversationId"]
    orchestrator = conversations(server, api_key, configuration_id)
    listed = run(orchestrator.list_participants(conversation_id))
    assert sorted((p.name, p.type) for p in listed) == sorted([(CUSTOMER, "CUSTOMER"), (AGENT, "AGENT")])
    [customer] = [p for p in listed if p.type == "CUSTOMER"]
    promoted = run(
        orchestrator.update_participant(
            conversation_id, customer.id, "CUSTOMER", customer.addresses, name="Ada", profile_id="mem_profile_x"
        )
    )
    assert (promoted.name, promoted.profile_id, promoted.addresses) == ("Ada", "mem_profile_x", customer.addresses)


def test_tac_handoff_calls_leave_the_conversation_inactive_without_callbacks(
    server: LiveServer, api_key: Credentials, client: Any, http: Any
) -> None:
    configuration_id = create_configuration(client)
    orchestrator = conversations(server, api_key, configuration_id)
    conversation_id, _ = run(
        orchestrator.create_or_reuse_conversation([ParticipantRequest(type="CUSTOMER", addresses=sms(CUSTOMER))])
    )
    assert run(orchestrator.update_conversation(conversation_id, "INACTIVE")).status == "INACTIVE"
    run(orchestrator.clear_status_callbacks(conversation_id))
    assert http.get(f"/v2/Conversations/{conversation_id}").json()["configuration"]["statusCallbacks"] == []


def test_tac_memory_calls_answer_and_parse(memory: MemoryClient) -> None:
    assert run(memory.lookup_profile("phone", CUSTOMER)).profiles == []
    profile_id = run(memory.create_profile({"Contact": {"phone": CUSTOMER, "firstName": "Ada"}}))
    assert run(memory.lookup_profile("phone", CUSTOMER)).profiles == [profile_id]
    profile = run(memory.get_profile(profile_id, trait_groups=["Contact"]))
    assert (profile.id, profile.traits) == (profile_id, {"Contact": {"phone": CUSTOMER, "firstName": "Ada"}})
    assert run(memory.create_observation(profile_id, "Ada prefers evening deliveries"))["message"]
    summary = {
        "content": "Rescheduled a delivery",
        "conversationId": "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w",
        "occurredAt": "2025-01-15T10:15:30Z",
    }
    assert run(memory.create_conversation_summaries(profile_id, [summary]))["message"]
    recalled = run(memory.retrieve_memory(profile_id, query="when are deliveries best?", communications_limit=5))
    assert [o.content for o in recalled.observations] == ["Ada prefers evening deliveries"]
    assert [s.content for s in recalled.summaries] == ["Rescheduled a delivery"]
    assert recalled.meta.query_time is not None
