"""Fixtures shared by the acceptance tests of conversations and what they hold."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest.conversations.v2.communication import CommunicationInstance, CommunicationList
from twilio.rest.conversations.v2.configuration import ConfigurationList
from twilio.rest.conversations.v2.conversation import ConversationInstance, ConversationList
from twilio.rest.conversations.v2.participant import ParticipantInstance, ParticipantList

from orchestrion.domain import ids
from orchestrion.runtime import Runtime
from orchestrion.store.store import Tx
from tests.acceptance.processes import Processes
from tests.builders import new_configuration
from tests.conftest import LiveServer, test_settings

T = TypeVar("T")

MEMORY_STORE_ID = "mem_store_0" + "a" * 25


def in_store(database_url: str, work: Callable[[Tx], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` in one transaction on the live server's database (to arrange or inspect state)."""

    async def run() -> T:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.write() as tx:
                return await work(tx)
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(run())


def make_configuration(database_url: str, account_sid: str, **settings: Any) -> str:
    configuration = new_configuration(account_sid, **settings)

    async def insert(tx: Tx) -> str:
        await tx.configurations.insert(configuration)
        return configuration.id

    return in_store(database_url, insert)


def create_configuration(client: Any, timeout_s: float = 15.0, **fields: Any) -> str:
    """A configuration made through the SDK, as an application makes one: POST, then poll the operation."""
    request = ConfigurationList.CreateConfigurationRequest(
        {
            "displayName": f"cfg {ids.new_secret()[:8]}",
            "description": "acceptance tests",
            "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
            "memoryStoreId": MEMORY_STORE_ID,
            **fields,
        }
    )
    answer = client.conversations.v2.configurations.create(create_configuration_request=request)
    operation_id = answer.status_url.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout_s
    while (operation := client.conversations.v2.operations(operation_id).fetch()).status not in ("COMPLETED", "FAILED"):
        if time.monotonic() > deadline:
            pytest.fail(f"configuration operation {operation_id} still {operation.status} after {timeout_s}s")
        time.sleep(0.02)
    if operation.status != "COMPLETED":
        pytest.fail(f"configuration operation {operation_id} failed: {operation.error}")
    return str(answer.related["configurationId"])


@pytest.fixture(scope="session")
def callback_sink() -> Iterator[str]:
    """A status-callback URL on loopback that takes every callback (204): fixtures' events go somewhere real."""
    from tests.acceptance.webhook_receiver import Receiver

    sink = Receiver(answer=lambda _r: 204, record=False)
    yield sink.url("/hooks")
    sink.close()


@pytest.fixture
def configuration_id(client: Any, callback_sink: str) -> str:
    """A configuration of the test's account."""
    return create_configuration(
        client,
        channelSettings={"SMS": {"statusTimeouts": {"inactive": 30, "closed": 60}}},
        statusCallbacks=[{"url": callback_sink, "method": "POST"}],
    )


@pytest.fixture
def other_configuration_id(other_client: Any) -> str:
    """A configuration of the other account."""
    return create_configuration(other_client)


# --- SDK shortcuts: the request classes are verbose; these keep tests about behaviour.


def create_conversation(client: Any, configuration_id: str, **fields: Any) -> ConversationInstance:
    request = ConversationList.CreateConversationWithConfigRequest({"configurationId": configuration_id, **fields})
    created: ConversationInstance = client.conversations.v2.conversations.create(request)
    return created


def add_participant(client: Any, conversation_id: str, **fields: Any) -> ParticipantInstance:
    fields.setdefault("addresses", [])
    request = ParticipantList.CreateParticipantInConversationRequest(fields)
    created: ParticipantInstance = client.conversations.v2.participants(conversation_id).create(request)
    return created


def record_communication(
    client: Any,
    conversation_id: str,
    text: str = "hello",
    *,
    author: dict[str, Any] | None = None,
    recipients: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> CommunicationInstance:
    request = CommunicationList.CreateCommunicationInConversationRequest(
        {
            "author": author or {"address": "+14155550100", "channel": "SMS"},
            "content": {"type": "TEXT", "text": text},
            "recipients": recipients or [{"address": "+14155550199", "channel": "SMS"}],
            **fields,
        }
    )
    created: CommunicationInstance = client.conversations.v2.communications(conversation_id).create(request)
    return created


def rest_error(call: Callable[[], Any]) -> TwilioRestException:
    """The TwilioRestException ``call`` raises (fails the test if it succeeds)."""
    with pytest.raises(TwilioRestException) as caught:
        call()
    return caught.value


@pytest.fixture
def api_only(private_database_url: str) -> Iterator[LiveServer]:
    """A live API server without its in-process dispatcher, on a database no other server uses."""
    live = LiveServer(test_settings(private_database_url)).start(run_worker=False)
    yield live
    live.stop()


@pytest.fixture
def processes(private_database_url: str, tmp_path: Path) -> Iterator[Processes]:
    """Real ``orchestrion`` processes on that database, all stopped at the end (logs under ``tmp_path``)."""
    procs = Processes(private_database_url, log_dir=tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()
