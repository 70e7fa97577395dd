"""The twilio provider end to end, on loopback: Action → Messages API → signed status callbacks → Action.

The Messages API here is ``messages_api_fake`` (Twilio's shape, its magic
numbers, faults on demand, callbacks signed as Twilio signs); the server's
ORCHESTRION_PUBLIC_URL is its own loopback URL, so the callbacks reach the
real ``/twilio/{AccountSid}/status`` entry point and are checked with the
Twilio account's auth token.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from orchestrion.domain.channels import Channel
from tests.acceptance.actions_support import (
    AGENT,
    fetch,
    send,
    settle,
    sms,
    wait_terminal,
)
from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.messages_api_fake import FakeMessagesApi, Fault
from tests.acceptance.providers_support import crash_after_accept, public_server, set_provider, wait_delivered
from tests.conftest import Credentials, LiveServer, new_account, sdk_client
from tests.send_cases import MAGIC_FAILURES, fresh_number


@dataclass
class World:
    server: LiveServer
    api: FakeMessagesApi
    account: Credentials
    client: Any
    conversation_id: str
    database_url: str


@pytest.fixture(scope="module")
def world(private_database_url: str) -> Iterator[World]:
    server = public_server(private_database_url, provider_timeout_s=1.0, retry_max_delay_s=2)
    api = FakeMessagesApi()
    account = new_account(private_database_url)
    options = {"accountSid": api.account_sid, "apiUrl": api.url}
    channels = frozenset({Channel.SMS, Channel.WHATSAPP})
    set_provider(server, account.account_sid, "twilio", channels, options, {"authToken": api.auth_token})
    client = sdk_client(server, account)
    configuration = create_configuration(client)
    conversation = create_conversation(client, configuration)
    yield World(server, api, account, client, str(conversation.id), private_database_url)
    server.stop()
    api.close()


def _customer() -> str:
    return fresh_number("+1415555")


def test_an_action_goes_through_the_messages_api_and_completes_with_the_recipient_delivered(world: World) -> None:
    customer = _customer()
    created = send(world.client, world.conversation_id, to=[sms(customer)], content={"text": "Your order shipped"})
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    [message] = world.api.sent_to(customer)
    assert (message["from"], message["body"]) == (AGENT, "Your order shipped")
    assert done.related["messageSid"] == message["sid"]
    callback = f"{world.server.url}/twilio/{world.account.account_sid}/status?actionId={created.id}"
    assert message["status_callback"] == callback
    wait_delivered(world.client, world.conversation_id, done.related["communicationId"])
    assert all(answer == 200 for _, answer in world.api.callbacks)


def test_whatsapp_and_media_go_with_their_prefix_and_media_urls(world: World) -> None:
    customer = "whatsapp:" + _customer()
    created = send(
        world.client,
        world.conversation_id,
        sender={"address": "whatsapp:" + AGENT, "channel": "WHATSAPP"},
        to=[{"address": customer, "channel": "WHATSAPP"}],
        content={"text": "See attached", "mediaUrls": ["https://example.com/a.png"]},
    )
    assert wait_terminal(world.client, world.conversation_id, created.id).status == "COMPLETED"
    [message] = world.api.sent_to(customer)
    assert (message["from"], message["media_urls"]) == ("whatsapp:" + AGENT, ["https://example.com/a.png"])


@pytest.mark.parametrize(("number", "code", "text"), MAGIC_FAILURES)
def test_a_magic_number_fails_the_action_with_twilios_code(world: World, number: str, code: int, text: str) -> None:
    created = send(world.client, world.conversation_id, to=[sms(number)])
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "FAILED"
    assert done.failure_reason.startswith(f"{code}: ") and text in done.failure_reason


@pytest.mark.parametrize(
    "fault", [Fault(429, 20429, retry_after="1"), Fault(500, 20500), Fault(503, 20503)], ids=["429", "500", "503"]
)
def test_a_transient_refusal_is_retried_until_the_message_is_sent_once(world: World, fault: Fault) -> None:
    customer = _customer()
    world.api.faults.append(fault)
    created = send(world.client, world.conversation_id, to=[sms(customer)])
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    assert [m["sid"] for m in world.api.sent_to(customer)] == [done.related["messageSid"]]


def test_an_accepted_send_whose_answer_is_lost_is_found_again_not_sent_twice(world: World) -> None:
    customer = _customer()
    world.api.hang_s.append(3.0)  # accepted, then answered after the provider's 1 s timeout
    created = send(world.client, world.conversation_id, to=[sms(customer)], content={"text": "exactly once"})
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    settle(world.database_url)  # every attempt of the send is over
    [message] = world.api.sent_to(customer)
    assert fetch(world.client, world.conversation_id, created.id).related["messageSid"] == message["sid"]


def test_a_callback_not_signed_with_a_known_token_is_refused(world: World) -> None:
    import httpx

    url = f"{world.server.url}/twilio/{world.account.account_sid}/status"
    answer = httpx.post(
        url, data={"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"}, headers={"X-Twilio-Signature": "x"}
    )
    assert answer.status_code == 403


def test_a_crash_between_the_call_and_storing_the_sid_sends_exactly_one_message(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = _customer()
    crashed = crash_after_accept(monkeypatch, customer)
    monkeypatch.setattr(world.api, "callback_after_s", 2.0)  # the retry runs before Twilio reports
    created = send(world.client, world.conversation_id, to=[sms(customer)], content={"text": "once"})
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    settle(world.database_url)
    [message] = world.api.sent_to(customer)
    assert crashed == [message["sid"]] == [done.related["messageSid"]]
