"""Participants of a conversation through the official SDK."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from twilio.rest.conversations.v2.conversation import ConversationList
from twilio.rest.conversations.v2.participant import ParticipantList

from tests.acceptance.conftest import add_participant, create_conversation, rest_error

Update = ParticipantList.UpdateParticipantInConversationRequest
SMS = {"channel": "SMS", "address": "+14155550100"}


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def _update(client: Any, conversation_id: str, participant_id: str, **fields: Any) -> Any:
    return client.conversations.v2.participants(conversation_id, participant_id).update(Update(fields))


def test_add_participant_answers_201_with_it(client: Any, conversation_id: str) -> None:
    created = add_participant(
        client,
        conversation_id,
        name="Ada",
        type="CUSTOMER",
        profileId="mem_profile_01",
        addresses=[SMS, {"channel": "WHATSAPP", "address": "whatsapp:+14155550100", "channelId": "wa-1"}],
    )
    assert created.id.startswith("conv_participant_")
    assert (created.conversation_id, created.name, created.type, created.profile_id) == (
        conversation_id,
        "Ada",
        "CUSTOMER",
        "mem_profile_01",
    )
    assert created.addresses == [
        SMS,
        {"channel": "WHATSAPP", "address": "whatsapp:+14155550100", "channelId": "wa-1"},
    ]
    assert created.created_at == created.updated_at


def test_participant_may_start_without_addresses(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, name="Bot", type="AI_AGENT", addresses=[])
    assert (created.addresses, created.name) == ([], "Bot")


def test_a_participant_nobody_named_is_named_after_its_first_address(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, addresses=[SMS, {"channel": "CHAT", "address": "ada"}])
    assert created.name == SMS["address"]
    assert client.conversations.v2.participants(conversation_id, created.id).fetch().name == SMS["address"]
    [listed] = client.conversations.v2.participants(conversation_id).list()
    assert listed.name == SMS["address"]


def test_a_participant_with_neither_name_nor_address_has_an_empty_name(
    http: httpx.Client, conversation_id: str
) -> None:
    response = http.post(f"/v2/Conversations/{conversation_id}/Participants", json={"addresses": []})
    assert (response.status_code, response.json()["name"]) == (201, "")


def test_add_participant_without_addresses_field_is_400(client: Any, conversation_id: str) -> None:
    request = ParticipantList.CreateParticipantInConversationRequest({"name": "no addresses"})
    error = rest_error(lambda: client.conversations.v2.participants(conversation_id).create(request))
    assert (error.status, error.code) == (400, 20001)
    assert "addresses" in error.msg


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        ("SMS", "4155550100"),
        ("VOICE", "+0155"),
        ("WHATSAPP", "+14155550100"),
        ("RCS", "brand_agent"),
        ("CHAT", " padded "),
        ("SMS", ""),
    ],
)
def test_address_not_valid_for_its_channel_is_400(
    client: Any, conversation_id: str, channel: str, address: str
) -> None:
    error = rest_error(
        lambda: add_participant(client, conversation_id, addresses=[{"channel": channel, "address": address}])
    )
    assert (error.status, error.code) == (400, 20001)


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        ("SMS", "+14155550100"),
        ("VOICE", "+442071838750"),
        ("WHATSAPP", "whatsapp:+14155550100"),
        ("RCS", "rcs:brand_acme_agent"),
        ("CHAT", "user-42"),
    ],
)
def test_address_valid_for_its_channel_is_accepted(
    client: Any, conversation_id: str, channel: str, address: str
) -> None:
    created = add_participant(client, conversation_id, addresses=[{"channel": channel, "address": address}])
    assert created.addresses == [{"channel": channel, "address": address}]


def test_unknown_channel_is_400(client: Any, conversation_id: str) -> None:
    error = rest_error(
        lambda: add_participant(client, conversation_id, addresses=[{"channel": "EMAIL", "address": "a@b.c"}])
    )
    assert (error.status, error.code) == (400, 20001)


def test_unknown_participant_type_is_400(client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: add_participant(client, conversation_id, type="ROBOT"))
    assert (error.status, error.code) == (400, 20001)


def test_the_same_address_twice_in_one_participant_is_400(client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: add_participant(client, conversation_id, addresses=[SMS, SMS]))
    assert (error.status, error.code) == (400, 20001)


def test_an_address_taken_in_the_conversation_is_409_naming_its_owner(
    client: Any, http: httpx.Client, conversation_id: str
) -> None:
    owner = add_participant(client, conversation_id, addresses=[SMS])
    response = http.post(f"/v2/Conversations/{conversation_id}/Participants", json={"addresses": [SMS]})
    assert (response.status_code, response.json()["code"]) == (409, 20409)
    assert response.headers["X-Conflicting-Resource-Id"] == owner.id


def test_the_same_address_on_another_channel_is_another_address(client: Any, conversation_id: str) -> None:
    add_participant(client, conversation_id, addresses=[SMS])
    other = add_participant(client, conversation_id, addresses=[{"channel": "VOICE", "address": SMS["address"]}])
    assert other.addresses == [{"channel": "VOICE", "address": SMS["address"]}]


def test_the_same_address_in_another_conversation_is_fine(
    client: Any, configuration_id: str, conversation_id: str
) -> None:
    add_participant(client, conversation_id, addresses=[SMS])
    elsewhere = create_conversation(client, configuration_id)
    assert add_participant(client, elsewhere.id, addresses=[SMS]).addresses == [SMS]


def test_adding_to_a_closed_conversation_is_409(client: Any, conversation_id: str) -> None:
    client.conversations.v2.conversations(conversation_id).patch(
        ConversationList.PatchConversationByIdRequest({"status": "CLOSED"})
    )
    error = rest_error(lambda: add_participant(client, conversation_id, name="late"))
    assert (error.status, error.code) == (409, 20409)
    assert "CLOSED" in error.msg


def test_adding_to_another_accounts_conversation_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    error = rest_error(lambda: add_participant(client, theirs.id, name="intruder"))
    assert (error.status, error.code) == (404, 20404)


def test_fetch_participant_returns_it(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, name="Ada", addresses=[SMS])
    fetched = client.conversations.v2.participants(conversation_id, created.id).fetch()
    assert (fetched.id, fetched.name, fetched.addresses) == (created.id, "Ada", [SMS])


def test_fetch_another_accounts_participant_is_404(client: Any, other_client: Any, other_configuration_id: str) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    participant = add_participant(other_client, theirs.id, name="theirs")
    error = rest_error(lambda: client.conversations.v2.participants(theirs.id, participant.id).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_fetch_participant_through_another_conversation_is_404(
    client: Any, configuration_id: str, conversation_id: str
) -> None:
    participant = add_participant(client, conversation_id)
    elsewhere = create_conversation(client, configuration_id)
    error = rest_error(lambda: client.conversations.v2.participants(elsewhere.id, participant.id).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_list_participants_in_creation_order(client: Any, conversation_id: str) -> None:
    created = [add_participant(client, conversation_id, name=f"p{i}").id for i in range(3)]
    assert [p.id for p in client.conversations.v2.participants(conversation_id).list()] == created


def test_list_participants_of_another_accounts_conversation_is_404(
    client: Any, http: httpx.Client, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    response = http.get(f"/v2/Conversations/{theirs.id}/Participants")
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_update_replaces_the_participant_clearing_what_it_leaves_out(client: Any, conversation_id: str) -> None:
    created = add_participant(
        client, conversation_id, name="Ada", type="CUSTOMER", profileId="mem_profile_01", addresses=[SMS]
    )
    updated = _update(client, conversation_id, created.id, name="Ada L.")
    assert (updated.name, updated.type, updated.profile_id, updated.addresses) == ("Ada L.", None, None, [])
    assert updated.updated_at >= created.updated_at
    fetched = client.conversations.v2.participants(conversation_id, created.id).fetch()
    assert (fetched.name, fetched.type, fetched.profile_id, fetched.addresses) == ("Ada L.", None, None, [])


def test_update_that_leaves_out_addresses_frees_them(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, name="Ada", addresses=[SMS])
    _update(client, conversation_id, created.id, name="Ada")
    assert add_participant(client, conversation_id, addresses=[SMS]).addresses == [SMS]


def test_update_that_repeats_the_participant_with_a_new_type_keeps_it_whole(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, type="UNKNOWN", addresses=[SMS])
    # What Twilio Agent Connect sends to promote a participant: the whole participant, a new type.
    updated = _update(
        client,
        conversation_id,
        created.id,
        name=created.name,
        type="CUSTOMER",
        profileId="mem_profile_02",
        addresses=created.addresses,
    )
    assert (updated.name, updated.type, updated.profile_id, updated.addresses) == (
        SMS["address"],
        "CUSTOMER",
        "mem_profile_02",
        [SMS],
    )
    error = rest_error(lambda: add_participant(client, conversation_id, addresses=[SMS]))
    assert (error.status, error.code) == (409, 20409)


def test_update_replaces_addresses(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, addresses=[SMS])
    chat = {"channel": "CHAT", "address": "ada"}
    assert _update(client, conversation_id, created.id, addresses=[chat]).addresses == [chat]
    # The released address is free again.
    assert add_participant(client, conversation_id, addresses=[SMS]).addresses == [SMS]


def test_update_revalidates_addresses(client: Any, conversation_id: str) -> None:
    created = add_participant(client, conversation_id, addresses=[SMS])
    bad = [{"channel": "WHATSAPP", "address": "14155550100"}]
    error = rest_error(lambda: _update(client, conversation_id, created.id, addresses=bad))
    assert (error.status, error.code) == (400, 20001)


def test_update_to_an_address_another_participant_holds_is_409(
    client: Any, http: httpx.Client, conversation_id: str
) -> None:
    owner = add_participant(client, conversation_id, addresses=[SMS])
    other = add_participant(client, conversation_id, addresses=[])
    response = http.put(f"/v2/Conversations/{conversation_id}/Participants/{other.id}", json={"addresses": [SMS]})
    assert (response.status_code, response.headers["X-Conflicting-Resource-Id"]) == (409, owner.id)
    assert client.conversations.v2.participants(conversation_id, other.id).fetch().addresses == []


def test_update_another_accounts_participant_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    participant = add_participant(other_client, theirs.id, name="theirs")
    error = rest_error(lambda: _update(client, theirs.id, participant.id, name="mine"))
    assert (error.status, error.code) == (404, 20404)


def test_profile_id_over_64_characters_is_400(client: Any, conversation_id: str) -> None:
    error = rest_error(lambda: add_participant(client, conversation_id, profileId="p" * 65))
    assert (error.status, error.code) == (400, 20001)
