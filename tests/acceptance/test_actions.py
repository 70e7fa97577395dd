"""SEND_MESSAGE actions through the official SDK: accepted, dispatched to the sandbox, finished."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import (
    AGENT,
    CUSTOMER,
    fetch,
    fetch_communication,
    sandbox_messages,
    send,
    set_conversation_status,
    sms,
    wait_for,
    wait_terminal,
)
from tests.acceptance.conftest import add_participant, create_conversation, rest_error
from tests.conftest import Credentials, LiveServer
from tests.send_cases import INVALID_SENDS, MAGIC_FAILURES

SID = re.compile(r"^SM[0-9a-f]{32}$")
SLOW = {"sandbox": {"stepMs": 3_600_000}}  # this message stays queued: its Action stays PENDING


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _participants(client: Any, conversation_id: str) -> list[Any]:
    return list(client.conversations.v2.participants(conversation_id).list())


def _delivery(client: Any, conversation_id: str, communication_id: str, wanted: str) -> Any:
    def probe() -> Any:
        found = fetch_communication(client, conversation_id, communication_id)
        statuses = {r.get("deliveryStatus") for r in found.recipients}
        return found if statuses == {wanted} else None

    return wait_for(probe, f"recipients of {communication_id} to be {wanted}")


# --- Accepted, then finished


def test_send_message_answers_202_with_a_pending_action(client: Any, conversation_id: str) -> None:
    created = send(client, conversation_id, channel_settings=SLOW)
    assert created.id.startswith("conv_action_")
    assert (created.type, created.status, created.conversation_id) == ("SEND_MESSAGE", "PENDING", conversation_id)
    assert created.related == {}
    assert isinstance(created.created_at, datetime) and isinstance(created.updated_at, datetime)
    assert created.completed_at is None and created.failure_reason is None


def test_send_message_completes_with_its_message_sid_and_communication(
    client: Any, conversation_id: str, http: Any, account: Credentials
) -> None:
    created = send(client, conversation_id, content={"text": "Your order has shipped"})
    done = wait_terminal(client, conversation_id, created.id)

    assert (done.id, done.type, done.status, done.conversation_id) == (
        created.id,
        "SEND_MESSAGE",
        "COMPLETED",
        conversation_id,
    )
    assert done.failure_reason is None
    assert isinstance(done.created_at, datetime) and isinstance(done.updated_at, datetime)
    assert isinstance(done.completed_at, datetime) and done.completed_at >= done.created_at
    assert set(done.related) == {"messageSid", "communicationId"}
    message_sid = done.related["messageSid"]
    assert SID.match(message_sid)

    communication = _delivery(client, conversation_id, done.related["communicationId"], "DELIVERED")
    senders = {p.addresses[0]["address"]: p for p in _participants(client, conversation_id)}
    assert communication.id == done.related["communicationId"]
    assert communication.account_id == account.account_sid
    assert communication.resource_id == message_sid and communication.channel_id == message_sid
    assert communication.content == {"type": "TEXT", "text": "Your order has shipped"}
    assert communication.author == {"address": AGENT, "channel": "SMS", "participantId": senders[AGENT].id}
    assert communication.recipients == [
        {"address": CUSTOMER, "channel": "SMS", "participantId": senders[CUSTOMER].id, "deliveryStatus": "DELIVERED"}
    ]

    [message] = sandbox_messages(http, conversationId=conversation_id)
    assert (message["sid"], message["actionId"], message["status"]) == (message_sid, created.id, "delivered")
    assert (message["from"], message["to"], message["body"]) == (AGENT, [CUSTOMER], "Your order has shipped")
    assert [h["status"] for h in message["history"]] == ["queued", "sent", "delivered"]


def test_message_sid_appears_while_the_action_is_still_pending(client: Any, conversation_id: str, http: Any) -> None:
    created = send(client, conversation_id, channel_settings=SLOW)

    def probe() -> Any:
        found = fetch(client, conversation_id, created.id)
        return found if found.related else None

    pending = wait_for(probe, "the message SID")
    assert pending.status == "PENDING" and pending.completed_at is None
    assert list(pending.related) == ["messageSid"] and SID.match(pending.related["messageSid"])
    [message] = sandbox_messages(http, conversationId=conversation_id)
    assert (message["sid"], message["status"]) == (pending.related["messageSid"], "queued")


@pytest.mark.parametrize(("number", "code", "text"), MAGIC_FAILURES)
def test_magic_numbers_fail_the_action_with_twilios_code_and_reason(
    client: Any, conversation_id: str, number: str, code: int, text: str
) -> None:
    created = send(client, conversation_id, to=[sms(number)])
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "FAILED"
    assert done.failure_reason is not None
    assert done.failure_reason.startswith(f"{code}: ") and text in done.failure_reason
    assert isinstance(done.completed_at, datetime)
    assert list(done.related) == ["messageSid"]
    assert list(client.conversations.v2.communications(conversation_id).list()) == []


def test_undelivered_after_completion_marks_the_recipient_failed(client: Any, conversation_id: str) -> None:
    created = send(client, conversation_id, to=[sms("+15005550010")])
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "COMPLETED" and done.failure_reason is None
    _delivery(client, conversation_id, done.related["communicationId"], "FAILED")
    assert fetch(client, conversation_id, created.id).status == "COMPLETED"


def test_read_receipt_moves_the_recipient_to_read(client: Any, conversation_id: str) -> None:
    created = send(client, conversation_id, to=[sms("+15005550011")])
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "COMPLETED"
    _delivery(client, conversation_id, done.related["communicationId"], "READ")


def test_template_without_text_is_recorded_as_a_rendering(client: Any, conversation_id: str, http: Any) -> None:
    content = {"contentId": "HX0123456789abcdef0123456789abcdef", "variables": {"name": "Alice", "order": "12"}}
    done = wait_terminal(client, conversation_id, send(client, conversation_id, content=content).id)
    communication = fetch_communication(client, conversation_id, done.related["communicationId"])
    assert communication.content == {
        "type": "TEXT",
        "text": '[template HX0123456789abcdef0123456789abcdef {"name":"Alice","order":"12"}]',
    }
    [message] = sandbox_messages(http, conversationId=conversation_id)
    assert (message["body"], message["contentId"], message["variables"]) == (
        None,
        content["contentId"],
        content["variables"],
    )


def test_channel_settings_reach_the_provider_untouched(client: Any, conversation_id: str, http: Any) -> None:
    settings = {
        "messagingServiceSid": "MG0123456789abcdef0123456789abcdef",
        "custom": {"a": [1, "two"], "b": {"c": True}},
    }
    content = {"text": "pic", "mediaUrls": ["https://example.com/a.jpg"]}
    wait_terminal(client, conversation_id, send(client, conversation_id, content=content, channel_settings=settings).id)
    [message] = sandbox_messages(http, conversationId=conversation_id)
    assert message["channelSettings"] == settings
    assert message["mediaUrls"] == ["https://example.com/a.jpg"]


def test_chat_message_goes_to_several_recipients(client: Any, conversation_id: str) -> None:
    to = [{"address": name, "channel": "CHAT"} for name in ("alice", "bob", "carol")]
    created = send(client, conversation_id, sender={"address": "support-bot", "channel": "CHAT"}, to=to)
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "COMPLETED"
    communication = _delivery(client, conversation_id, done.related["communicationId"], "DELIVERED")
    assert [r["address"] for r in communication.recipients] == ["alice", "bob", "carol"]
    assert communication.author["address"] == "support-bot"


# --- Address resolution


def test_address_and_channel_create_an_agent_and_a_customer(client: Any, conversation_id: str) -> None:
    wait_terminal(client, conversation_id, send(client, conversation_id).id)
    found = {(p.type, p.name, p.addresses[0]["address"]) for p in _participants(client, conversation_id)}
    assert found == {("AGENT", AGENT, AGENT), ("CUSTOMER", CUSTOMER, CUSTOMER)}  # unnamed: named after the address


def test_address_and_channel_reuse_the_participant_owning_the_address(client: Any, conversation_id: str) -> None:
    customer = add_participant(client, conversation_id, name="Dana", type="CUSTOMER", addresses=[sms(CUSTOMER)])
    done = wait_terminal(client, conversation_id, send(client, conversation_id).id)
    communication = fetch_communication(client, conversation_id, done.related["communicationId"])
    assert communication.recipients[0]["participantId"] == customer.id
    assert len(_participants(client, conversation_id)) == 2  # Dana and the new agent


def test_participant_id_and_channel_pick_that_channels_address(client: Any, conversation_id: str) -> None:
    agent = add_participant(
        client,
        conversation_id,
        type="AGENT",
        addresses=[{"address": "whatsapp:+14155550100", "channel": "WHATSAPP"}, sms(AGENT)],
    )
    customer = add_participant(
        client, conversation_id, addresses=[sms(CUSTOMER), {"address": "whatsapp:+14155550199", "channel": "WHATSAPP"}]
    )
    created = send(
        client,
        conversation_id,
        sender={"participantId": agent.id, "channel": "WHATSAPP"},
        to=[{"participantId": customer.id, "channel": "WHATSAPP"}],
    )
    done = wait_terminal(client, conversation_id, created.id)
    communication = fetch_communication(client, conversation_id, done.related["communicationId"])
    assert communication.author == {
        "address": "whatsapp:+14155550100",
        "channel": "WHATSAPP",
        "participantId": agent.id,
    }
    assert communication.recipients[0]["address"] == "whatsapp:+14155550199"
    assert communication.recipients[0]["participantId"] == customer.id


def test_participant_id_alone_uses_its_only_address(client: Any, conversation_id: str) -> None:
    agent = add_participant(client, conversation_id, type="AGENT", addresses=[sms(AGENT)])
    customer = add_participant(client, conversation_id, type="CUSTOMER", addresses=[sms(CUSTOMER)])
    created = send(client, conversation_id, sender={"participantId": agent.id}, to=[{"participantId": customer.id}])
    done = wait_terminal(client, conversation_id, created.id)
    communication = fetch_communication(client, conversation_id, done.related["communicationId"])
    assert (communication.author["address"], communication.recipients[0]["address"]) == (AGENT, CUSTOMER)


def _refused(call: Any, status: int = 400) -> str:
    error = rest_error(call)
    assert error.status == status, error.msg
    return str(error.msg)


def test_participant_id_alone_with_several_addresses_is_refused(client: Any, conversation_id: str) -> None:
    both = add_participant(
        client, conversation_id, addresses=[sms(CUSTOMER), {"address": "whatsapp:+14155550199", "channel": "WHATSAPP"}]
    )
    message = _refused(lambda: send(client, conversation_id, to=[{"participantId": both.id}]))
    assert "payload.to[0]" in message and "2 addresses" in message and "channel" in message


def test_participant_without_an_address_on_the_channel_is_refused(client: Any, conversation_id: str) -> None:
    customer = add_participant(client, conversation_id, addresses=[sms(CUSTOMER)])
    message = _refused(lambda: send(client, conversation_id, to=[{"participantId": customer.id, "channel": "CHAT"}]))
    assert "no address on channel CHAT" in message


def test_participant_without_any_address_is_refused(client: Any, conversation_id: str) -> None:
    nobody = add_participant(client, conversation_id, name="No address")
    message = _refused(lambda: send(client, conversation_id, to=[{"participantId": nobody.id}]))
    assert "has no address" in message


def test_unknown_participant_id_is_refused(client: Any, conversation_id: str) -> None:
    unknown = "conv_participant_01jq7z8k9m0n1p2q3r4s5t6v7w"
    message = _refused(lambda: send(client, conversation_id, to=[{"participantId": unknown, "channel": "SMS"}]))
    assert unknown in message and "payload.to[0]" in message


@pytest.mark.parametrize(
    ("payload", "expected"),
    [*INVALID_SENDS, ({"content": {"text": "hi", "mediaUrls": ["not a url"]}}, "payload.content.mediaUrls[0]")],
)
def test_invalid_send_requests_are_refused_with_400(
    client: Any, conversation_id: str, payload: dict[str, Any], expected: str
) -> None:
    message = _refused(lambda: send(client, conversation_id, **payload))
    assert expected in message


def test_unknown_content_field_is_refused(http: Any, conversation_id: str) -> None:
    body = {"type": "SEND_MESSAGE", "payload": {"from": sms(AGENT), "to": [sms(CUSTOMER)], "content": {"txt": "hi"}}}
    response = http.post(f"/v2/Conversations/{conversation_id}/Actions", json=body)
    assert response.status_code == 400
    assert response.json()["message"] == "Unknown parameter payload.content.txt"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"payload": {}}, "Missing required parameter type"),
        ({"type": "START_FLOW", "payload": {"flowId": "FW0"}}, "Unsupported action type 'START_FLOW'"),
        ({"type": "SEND_MESSAGE"}, "Missing required parameter payload"),
        (
            {"type": "SEND_MESSAGE", "payload": {"from": None, "to": [sms(CUSTOMER)], "content": {"text": "x"}}},
            "payload.from",
        ),
        ({"type": "SEND_MESSAGE", "payload": {"from": sms(AGENT), "content": {"text": "x"}}}, "payload.to"),
        ({"type": "SEND_MESSAGE", "payload": {"from": sms(AGENT), "to": [sms(CUSTOMER)]}}, "payload.content"),
    ],
)
def test_malformed_bodies_are_refused_with_400(
    http: Any, conversation_id: str, body: dict[str, Any], expected: str
) -> None:
    response = http.post(f"/v2/Conversations/{conversation_id}/Actions", json=body)
    assert response.status_code == 400
    assert expected in response.json()["message"]


def test_a_refused_request_creates_no_participant(client: Any, conversation_id: str) -> None:
    _refused(lambda: send(client, conversation_id, to=[sms(CUSTOMER), sms("+14155550198")]))
    assert _participants(client, conversation_id) == []


# --- Where an action may be sent


def test_unknown_conversation_is_404(client: Any) -> None:
    missing = "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w"
    error = rest_error(lambda: send(client, missing))
    assert (error.status, error.code) == (404, 20404)


def test_another_accounts_conversation_is_404(other_client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: send(other_client, conversation_id))
    assert (error.status, error.code) == (404, 20404)


def test_closed_conversation_refuses_actions_with_409(
    client: Any, conversation_id: str, database_url: str, account: Credentials
) -> None:
    set_conversation_status(database_url, account.account_sid, conversation_id, "CLOSED")
    message = _refused(lambda: send(client, conversation_id), status=409)
    assert "CLOSED" in message


def test_fetching_an_unknown_action_is_404(client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: fetch(client, conversation_id, "conv_action_01jq7z8k9m0n1p2q3r4s5t6v7w"))
    assert (error.status, error.code) == (404, 20404)
    error = rest_error(lambda: fetch(client, conversation_id, "not-an-id"))
    assert error.status == 404


def test_another_accounts_action_is_404(client: Any, other_client: Any, conversation_id: str) -> None:
    created = send(client, conversation_id, channel_settings=SLOW)
    error = rest_error(lambda: fetch(other_client, conversation_id, created.id))
    assert (error.status, error.code) == (404, 20404)


def test_action_is_only_found_in_its_own_conversation(client: Any, configuration_id: str, conversation_id: str) -> None:
    created = send(client, conversation_id, channel_settings=SLOW)
    elsewhere = create_conversation(client, configuration_id).id
    assert rest_error(lambda: fetch(client, elsewhere, created.id)).status == 404


def test_head_of_an_action_answers_the_gets_headers_without_a_body(
    client: Any, conversation_id: str, server: LiveServer, account: Credentials
) -> None:
    # GET is answered by the status lane (api/lane.py), HEAD by Starlette's router: the two must agree.
    created = wait_terminal(client, conversation_id, send(client, conversation_id).id)  # terminal: it won't change
    path = f"/v2/Conversations/{conversation_id}/Actions/{created.id}"
    with httpx.Client(base_url=server.url, auth=(account.account_sid, account.auth_token), timeout=10) as http:
        got, head = http.get(path), http.head(path)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b"" and got.json()["id"] == created.id
    for name in ("content-type", "content-length"):
        assert head.headers[name] == got.headers[name]
