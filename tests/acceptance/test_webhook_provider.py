"""The webhook provider end to end, on loopback: signed JSON to a gateway, signed status reports back."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestrion.domain.channels import Channel
from tests.acceptance.actions_support import fetch, send, sms, wait_for, wait_terminal
from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.gateway_fake import FakeGateway, signed_headers
from tests.acceptance.providers_support import public_server, set_provider
from tests.conftest import Credentials, LiveServer, new_account, sdk_client


@dataclass
class World:
    server: LiveServer
    gateway: FakeGateway
    account: Credentials
    client: Any
    conversation_id: str

    @property
    def status_url(self) -> str:
        return f"{self.server.url}/providers/webhook/{self.account.account_sid}/status"

    def report(self, document: dict[str, Any], *, secret: str | None = None, at: int | None = None) -> httpx.Response:
        body = json.dumps(document).encode()
        headers = signed_headers(secret or self.gateway.secret, at or int(time.time()), body)
        return httpx.post(self.status_url, content=body, headers=headers)


@pytest.fixture(scope="module")
def world(private_database_url: str) -> Iterator[World]:
    server = public_server(private_database_url, retry_max_delay_s=1)
    gateway = FakeGateway(secret=secrets.token_hex(32))
    account = new_account(private_database_url)
    channels = frozenset({Channel.SMS})
    set_provider(
        server, account.account_sid, "webhook", channels, {"url": gateway.url}, {"signingSecret": gateway.secret}
    )
    client = sdk_client(server, account)
    conversation = create_conversation(client, create_configuration(client))
    yield World(server, gateway, account, client, str(conversation.id))
    server.stop()
    gateway.close()


def _sent(world: World, text: str, faults: tuple[int, ...] = ()) -> tuple[str, dict[str, Any]]:
    world.gateway.faults.extend(faults)
    created = send(world.client, world.conversation_id, to=[sms("+14155550123")], content={"text": text})

    def sid_stored() -> Any:
        return fetch(world.client, world.conversation_id, created.id).related.get("messageSid")

    wait_for(sid_stored, "the gateway's message id to be stored")
    return created.id, world.gateway.messages[created.id]


def test_a_message_is_posted_signed_and_a_signed_report_completes_the_action(world: World) -> None:
    action_id, message = _sent(world, "hello gateway")
    request = message["request"]
    assert (request["id"], request["channel"], request["content"]["text"]) == (action_id, "SMS", "hello gateway")
    assert request["statusCallback"] == world.status_url
    assert world.gateway.bad_signatures == 0
    answer = world.report({"messageId": message["id"], "status": "delivered"})
    assert (answer.status_code, answer.json()) == (200, {"status": "applied"})
    done = wait_terminal(world.client, world.conversation_id, action_id)
    assert done.status == "COMPLETED"


def test_a_failed_report_fails_the_action_with_its_code(world: World) -> None:
    action_id, message = _sent(world, "doomed")
    world.report({"messageId": message["id"], "status": "failed", "errorCode": 30006, "errorMessage": "Landline"})
    done = wait_terminal(world.client, world.conversation_id, action_id)
    assert (done.status, done.failure_reason) == ("FAILED", "30006: Landline")


def test_a_gateway_503_is_retried_with_the_same_idempotency_key(world: World) -> None:
    before = world.gateway.requests
    _, message = _sent(world, "retry me", faults=(503,))
    assert world.gateway.requests - before == 2
    assert message["request"]["attempt"] == 2


def test_a_gateway_4xx_fails_the_action_with_its_code(world: World) -> None:
    world.gateway.faults.append(422)
    created = send(world.client, world.conversation_id, to=[sms("+14155550124")])
    done = wait_terminal(world.client, world.conversation_id, created.id)
    assert (done.status, done.failure_reason) == ("FAILED", "30001: queue overflow")


def test_a_report_with_a_bad_signature_is_refused_with_no_effect(world: World) -> None:
    action_id, message = _sent(world, "forged")
    answer = world.report({"messageId": message["id"], "status": "failed"}, secret="not-the-secret-at-all")
    assert answer.status_code == 403 and answer.json()["status"] == 403
    assert fetch(world.client, world.conversation_id, action_id).status == "PENDING"


def test_a_stale_report_is_refused(world: World) -> None:
    action_id, message = _sent(world, "stale")
    answer = world.report({"messageId": message["id"], "status": "delivered"}, at=int(time.time()) - 3600)
    assert answer.status_code == 403
    assert fetch(world.client, world.conversation_id, action_id).status == "PENDING"


def test_a_replayed_report_is_refused(world: World) -> None:
    _, message = _sent(world, "replayed")
    body = json.dumps({"messageId": message["id"], "status": "sent"}).encode()
    headers = signed_headers(world.gateway.secret, int(time.time()), body)
    first = httpx.post(world.status_url, content=body, headers=headers)
    again = httpx.post(world.status_url, content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 403)
    assert "replay" in again.json()["message"]


def test_a_report_for_an_account_without_the_provider_is_refused(world: World, private_database_url: str) -> None:
    stranger = new_account(private_database_url)
    body = json.dumps({"messageId": "gw-1", "status": "sent"}).encode()
    url = f"{world.server.url}/providers/webhook/{stranger.account_sid}/status"
    answer = httpx.post(url, content=body, headers=signed_headers(world.gateway.secret, int(time.time()), body))
    assert answer.status_code == 403


def test_a_malformed_report_is_a_400(world: World) -> None:
    answer = world.report({"messageId": "gw-1", "status": "exploded"})
    assert answer.status_code == 400 and answer.json()["code"] == 20001
