"""Communications of a conversation through the official SDK."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from twilio.rest.conversations.v2.communication import CommunicationList
from twilio.rest.conversations.v2.conversation import ConversationList

from tests.acceptance.conftest import add_participant, create_conversation, record_communication, rest_error

CUSTOMER = {"address": "+14155550100", "channel": "SMS"}
AGENT = {"address": "+14155550199", "channel": "SMS"}


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _set_status(client: Any, conversation_id: str, status: str) -> None:
    client.conversations.v2.conversations(conversation_id).patch(
        ConversationList.PatchConversationByIdRequest({"status": status})
    )


def test_record_text_communication_answers_201_with_it(client: Any, conversation_id: str) -> None:
    created = record_communication(
        client,
        conversation_id,
        "Where is my order?",
        author=CUSTOMER,
        recipients=[AGENT],
        channelId="SM00000000000000000000000000000001",
        resourceId="SM00000000000000000000000000000001",
        occurredAt="2026-03-30T10:30:00Z",
    )
    assert created.id.startswith("conv_communication_")
    assert created.conversation_id == conversation_id
    assert created.author == CUSTOMER
    assert created.content == {"type": "TEXT", "text": "Where is my order?"}
    assert created.recipients == [AGENT]
    assert (created.channel_id, created.resource_id) == (
        "SM00000000000000000000000000000001",
        "SM00000000000000000000000000000001",
    )
    assert created.occurred_at == datetime(2026, 3, 30, 10, 30, tzinfo=UTC)


def test_occurred_at_defaults_to_now(client: Any, conversation_id: str) -> None:
    created = record_communication(client, conversation_id)
    assert created.occurred_at == created.created_at


def test_record_transcription_keeps_its_details(http: httpx.Client, conversation_id: str) -> None:
    # The SDK's create request has no room for words: this takes a plain HTTP client.
    content = {
        "type": "TRANSCRIPTION",
        "text": "hello there",
        "transcription": {
            "channel": 1,
            "confidence": 0.93,
            "engine": "deepgram",
            "words": [{"text": "hello", "startTime": "2026-03-30T10:30:00.250+00:00"}, {"text": "there"}],
        },
    }
    body = {
        "author": {**CUSTOMER, "channel": "VOICE"},
        "content": content,
        "recipients": [{**AGENT, "channel": "VOICE"}],
    }
    response = http.post(f"/v2/Conversations/{conversation_id}/Communications", json=body)
    assert response.status_code == 201
    assert response.json()["content"]["transcription"] == {
        "channel": 1,
        "confidence": 0.93,
        "engine": "deepgram",
        "words": [{"text": "hello", "startTime": "2026-03-30T10:30:00Z"}, {"text": "there"}],
    }


def test_confidence_above_one_is_400(client: Any, conversation_id: str) -> None:
    request = CommunicationList.CreateCommunicationInConversationRequest(
        {
            "author": CUSTOMER,
            "content": {"type": "TRANSCRIPTION", "text": "hi", "transcription": {"confidence": 1.5}},
            "recipients": [AGENT],
        }
    )
    error = rest_error(lambda: client.conversations.v2.communications(conversation_id).create(request))
    assert (error.status, error.code) == (400, 20001)


def test_unknown_content_type_is_400(client: Any, conversation_id: str) -> None:
    request = CommunicationList.CreateCommunicationInConversationRequest(
        {"author": CUSTOMER, "content": {"type": "IMAGE", "text": "x"}, "recipients": [AGENT]}
    )
    error = rest_error(lambda: client.conversations.v2.communications(conversation_id).create(request))
    assert (error.status, error.code) == (400, 20001)


def test_no_recipients_is_400(client: Any, conversation_id: str) -> None:
    request = CommunicationList.CreateCommunicationInConversationRequest(
        {"author": CUSTOMER, "content": {"type": "TEXT", "text": "x"}, "recipients": []}
    )
    error = rest_error(lambda: client.conversations.v2.communications(conversation_id).create(request))
    assert (error.status, error.code) == (400, 20001)


def test_author_address_not_valid_for_its_channel_is_400(client: Any, conversation_id: str) -> None:
    author = {"address": "whatsapp:+14155550100", "channel": "SMS"}
    error = rest_error(lambda: record_communication(client, conversation_id, author=author))
    assert (error.status, error.code) == (400, 20001)


def test_recipient_address_not_valid_for_its_channel_is_400(client: Any, conversation_id: str) -> None:
    recipients = [{"address": "+14155550100", "channel": "WHATSAPP"}]
    error = rest_error(lambda: record_communication(client, conversation_id, recipients=recipients))
    assert (error.status, error.code) == (400, 20001)


def test_occurred_at_that_is_not_a_timestamp_is_400(client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: record_communication(client, conversation_id, occurredAt="yesterday"))
    assert (error.status, error.code) == (400, 20001)
    assert "occurredAt" in error.msg


def test_occurred_at_past_year_9999_is_400(client: Any, conversation_id: str) -> None:
    late = "9999-12-31T23:59:59-05:00"
    error = rest_error(lambda: record_communication(client, conversation_id, occurredAt=late))
    assert (error.status, error.code) == (400, 20001)


def test_empty_resource_id_is_400(http: httpx.Client, conversation_id: str) -> None:
    body = {"author": CUSTOMER, "content": {"type": "TEXT", "text": "x"}, "recipients": [AGENT], "resourceId": ""}
    response = http.post(f"/v2/Conversations/{conversation_id}/Communications", json=body)
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_the_same_resource_id_returns_the_first_communication(client: Any, conversation_id: str) -> None:
    first = record_communication(client, conversation_id, "first", resourceId="SM1")
    again = record_communication(client, conversation_id, "second", resourceId="SM1")
    assert (again.id, again.content["text"]) == (first.id, "first")
    assert [c.id for c in client.conversations.v2.communications(conversation_id).list()] == [first.id]


def test_the_same_resource_id_in_another_conversation_is_another_communication(
    client: Any, configuration_id: str, conversation_id: str
) -> None:
    first = record_communication(client, conversation_id, resourceId="SM1")
    elsewhere = create_conversation(client, configuration_id)
    assert record_communication(client, elsewhere.id, resourceId="SM1").id != first.id


def test_an_address_alone_links_to_the_participant_who_holds_it(client: Any, conversation_id: str) -> None:
    customer = add_participant(client, conversation_id, addresses=[{"channel": "SMS", "address": CUSTOMER["address"]}])
    created = record_communication(client, conversation_id, author=CUSTOMER, recipients=[AGENT])
    assert created.author == {**CUSTOMER, "participantId": customer.id}
    assert created.recipients == [AGENT]


def test_a_named_participant_is_kept(client: Any, conversation_id: str) -> None:
    agent = add_participant(client, conversation_id, name="Agent")
    created = record_communication(client, conversation_id, author={**AGENT, "participantId": agent.id})
    assert created.author["participantId"] == agent.id


def test_an_unknown_participant_id_is_400_naming_it(client: Any, conversation_id: str) -> None:
    author = {**CUSTOMER, "participantId": "conv_participant_01h00000000000000000000000"}
    error = rest_error(lambda: record_communication(client, conversation_id, author=author))
    assert (error.status, error.code) == (400, 20001)
    assert "conv_participant_01h00000000000000000000000" in error.msg


def test_a_participant_id_that_does_not_hold_the_address_is_400(client: Any, conversation_id: str) -> None:
    add_participant(client, conversation_id, addresses=[{"channel": "SMS", "address": CUSTOMER["address"]}])
    impostor = add_participant(client, conversation_id, name="impostor")
    author = {**CUSTOMER, "participantId": impostor.id}
    error = rest_error(lambda: record_communication(client, conversation_id, author=author))
    assert (error.status, error.code) == (400, 20001)


def test_recipient_delivery_status_is_kept(http: httpx.Client, conversation_id: str) -> None:
    body = {
        "author": CUSTOMER,
        "content": {"type": "TEXT", "text": "x"},
        "recipients": [{**AGENT, "deliveryStatus": "DELIVERED"}],
    }
    response = http.post(f"/v2/Conversations/{conversation_id}/Communications", json=body)
    assert (response.status_code, response.json()["recipients"]) == (201, [{**AGENT, "deliveryStatus": "DELIVERED"}])


def test_recording_in_a_closed_conversation_is_409(client: Any, conversation_id: str) -> None:
    _set_status(client, conversation_id, "CLOSED")
    error = rest_error(lambda: record_communication(client, conversation_id))
    assert (error.status, error.code) == (409, 20409)
    assert "CLOSED" in error.msg


def test_a_replay_after_closing_returns_the_first_communication(client: Any, conversation_id: str) -> None:
    first = record_communication(client, conversation_id, resourceId="SM1")
    _set_status(client, conversation_id, "CLOSED")
    assert record_communication(client, conversation_id, resourceId="SM1").id == first.id


def test_a_communication_brings_an_inactive_conversation_back_to_active(client: Any, conversation_id: str) -> None:
    _set_status(client, conversation_id, "INACTIVE")
    record_communication(client, conversation_id)
    assert client.conversations.v2.conversations(conversation_id).fetch().status == "ACTIVE"


def test_recording_in_another_accounts_conversation_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    error = rest_error(lambda: record_communication(client, theirs.id))
    assert (error.status, error.code) == (404, 20404)


def test_fetch_communication_returns_it(client: Any, conversation_id: str) -> None:
    created = record_communication(client, conversation_id, "fetch me")
    fetched = client.conversations.v2.communications(conversation_id, created.id).fetch()
    assert (fetched.id, fetched.content) == (created.id, {"type": "TEXT", "text": "fetch me"})


def test_fetch_another_accounts_communication_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    communication = record_communication(other_client, theirs.id)
    error = rest_error(lambda: client.conversations.v2.communications(theirs.id, communication.id).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_list_communications_in_order(client: Any, conversation_id: str) -> None:
    created = [record_communication(client, conversation_id, f"m{i}").id for i in range(3)]
    assert [c.id for c in client.conversations.v2.communications(conversation_id).list()] == created


def test_list_communications_filters_by_channel_id(client: Any, conversation_id: str) -> None:
    record_communication(client, conversation_id, channelId="CH-A")
    wanted = record_communication(client, conversation_id, channelId="CH-B")
    listed = client.conversations.v2.communications(conversation_id).list(channel_id="CH-B")
    assert [c.id for c in listed] == [wanted.id]


def test_list_communications_of_another_accounts_conversation_is_404(
    http: httpx.Client, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    response = http.get(f"/v2/Conversations/{theirs.id}/Communications")
    assert (response.status_code, response.json()["code"]) == (404, 20404)
