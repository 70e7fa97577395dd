"""DELETE /v2/Conversations/{ConversationId}/Participants/{id}: Orchestrion's addition to the API.

The reference document has no way to remove a participant; this answers 204
No Content and frees the participant's addresses. The twilio SDK has no
method for it, so these tests use plain HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import add_participant, create_conversation, rest_error

SMS = {"channel": "SMS", "address": "+14155550100"}


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _path(conversation_id: str, participant_id: str) -> str:
    return f"/v2/Conversations/{conversation_id}/Participants/{participant_id}"


def test_delete_participant_answers_204_and_it_is_gone(client: Any, http: httpx.Client, conversation_id: str) -> None:
    participant = add_participant(client, conversation_id, name="Ada", addresses=[SMS])
    response = http.delete(_path(conversation_id, participant.id))
    assert (response.status_code, response.content) == (204, b"")
    error = rest_error(lambda: client.conversations.v2.participants(conversation_id, participant.id).fetch())
    assert (error.status, error.code) == (404, 20404)
    assert list(client.conversations.v2.participants(conversation_id).list()) == []


def test_a_removed_participants_addresses_are_free_again(client: Any, http: httpx.Client, conversation_id: str) -> None:
    first = add_participant(client, conversation_id, addresses=[SMS])
    assert http.delete(_path(conversation_id, first.id)).status_code == 204
    second = add_participant(client, conversation_id, addresses=[SMS])
    assert second.id != first.id and second.addresses == [SMS]


def test_deleting_it_twice_is_404_the_second_time(client: Any, http: httpx.Client, conversation_id: str) -> None:
    participant = add_participant(client, conversation_id, addresses=[])
    assert http.delete(_path(conversation_id, participant.id)).status_code == 204
    response = http.delete(_path(conversation_id, participant.id))
    assert (response.status_code, response.json()["code"]) == (404, 20404)


@pytest.mark.parametrize("participant_id", ["conv_participant_01jq7z8k9m0n1p2q3r4s5t6v7w", "not-an-id"])
def test_deleting_an_unknown_participant_is_404(http: httpx.Client, conversation_id: str, participant_id: str) -> None:
    response = http.delete(_path(conversation_id, participant_id))
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_deleting_another_accounts_participant_is_404_and_leaves_it(
    client: Any, other_client: Any, conversation_id: str, server: Any, other_account: Any
) -> None:
    participant = add_participant(client, conversation_id, addresses=[SMS])
    response = httpx.delete(
        server.url + _path(conversation_id, participant.id),
        auth=(other_account.account_sid, other_account.auth_token),
        timeout=10,
    )
    assert response.status_code == 404
    assert client.conversations.v2.participants(conversation_id, participant.id).fetch().id == participant.id


def test_a_closed_conversations_participants_stay(client: Any, http: httpx.Client, conversation_id: str) -> None:
    participant = add_participant(client, conversation_id, addresses=[SMS])
    assert http.patch(f"/v2/Conversations/{conversation_id}", json={"status": "CLOSED"}).status_code == 200
    response = http.delete(_path(conversation_id, participant.id))
    assert (response.status_code, response.json()["code"]) == (409, 20409)
    assert client.conversations.v2.participants(conversation_id, participant.id).fetch().id == participant.id
