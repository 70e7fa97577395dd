"""The twilio provider against Orchestrion's own Messages API (issue 10 part 1), in one server.

A second account of the server stands for the Twilio account: the provider of the first sends
through ``/2010-04-01/Accounts/{second}/Messages.json`` on loopback; the sandbox behind that API
keeps the messages (the second account's ``/sandbox/messages``) and posts status callbacks,
signed with the second account's auth token, back to the first account's ``/twilio/.../status``.
Skipped while this server has no Messages API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestrion.domain.channels import Channel
from tests.acceptance.actions_support import send, settle, sms, wait_terminal
from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.providers_support import crash_after_accept, public_server, set_provider, wait_delivered
from tests.conftest import Credentials, LiveServer, new_account, sdk_client
from tests.send_cases import MAGIC_FAILURES, fresh_number


@dataclass
class World:
    server: LiveServer
    twilio: Credentials  # the account that stands for the Twilio account
    client: Any
    conversation_id: str
    database_url: str

    def inbox(self, to: str) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.server.url}/sandbox/messages",
            params={"to": to},
            auth=(self.twilio.account_sid, self.twilio.auth_token),
        )
        assert answer.status_code == 200, answer.text
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages


@pytest.fixture(scope="module")
def world(private_database_url: str) -> Iterator[World]:
    server = public_server(private_database_url, retry_max_delay_s=2)
    try:
        twilio = new_account(private_database_url)
        probe = httpx.get(
            f"{server.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
            auth=(twilio.account_sid, twilio.auth_token),
        )
        if probe.status_code == 404:
            pytest.skip("this server has no Messages API yet (issue 10 part 1)")
        account = new_account(private_database_url)
        options = {"accountSid": twilio.account_sid, "apiUrl": server.url}
        set_provider(
            server, account.account_sid, "twilio", frozenset({Channel.SMS}), options, {"authToken": twilio.auth_token}
        )
        client = sdk_client(server, account)
        conversation = create_conversation(client, create_configuration(client))
        yield World(server, twilio, client, str(conversation.id), private_database_url)
    finally:
        server.stop()


def _customer() -> str:
    return fresh_number("+1415556")


def test_an_action_completes_through_the_own_messages_api_and_its_recipient_is_delivered(world: World) -> None:
    customer = _customer()
    created = send(world.client, world.conversation_id, to=[sms(customer)], content={"text": "through Twilio"})
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    [message] = world.inbox(customer)
    assert done.related["messageSid"] == message["sid"]
    wait_delivered(world.client, world.conversation_id, done.related["communicationId"])


@pytest.mark.parametrize(("number", "code", "text"), MAGIC_FAILURES)
def test_a_magic_number_fails_with_twilios_code(world: World, number: str, code: int, text: str) -> None:
    created = send(world.client, world.conversation_id, to=[sms(number)])
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "FAILED" and done.failure_reason.startswith(f"{code}: ")


def test_a_crash_after_the_messages_api_accepted_sends_one_message(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = _customer()
    crashed = crash_after_accept(monkeypatch, customer)
    created = send(world.client, world.conversation_id, to=[sms(customer)], content={"text": "once"})
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert done.status == "COMPLETED", done.failure_reason
    settle(world.database_url)
    assert [m["sid"] for m in world.inbox(customer)] == crashed
