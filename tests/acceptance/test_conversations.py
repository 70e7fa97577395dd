"""Conversations through the official SDK: create, read, list, update, delete."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from twilio.rest.conversations.v2.conversation import ConversationList

from tests.acceptance.conftest import (
    MEMORY_STORE_ID,
    add_participant,
    create_conversation,
    in_store,
    record_communication,
    rest_error,
)
from tests.conftest import Credentials, LiveServer, sdk_client

Patch = ConversationList.PatchConversationByIdRequest
Put = ConversationList.UpdateConversationByIdRequest


def _patch(client: Any, conversation_id: str, **fields: Any) -> Any:
    return client.conversations.v2.conversations(conversation_id).patch(Patch(fields))


def _put(client: Any, conversation_id: str, **fields: Any) -> Any:
    return client.conversations.v2.conversations(conversation_id).update(Put(fields))


def test_create_conversation_answers_201_with_an_active_conversation(
    client: Any, configuration_id: str, account: Credentials
) -> None:
    created = create_conversation(client, configuration_id, name="Support", metadata={"ticket": "T-1"})
    assert created.id.startswith("conv_conversation_")
    assert (created.account_id, created.configuration_id) == (account.account_sid, configuration_id)
    assert (created.status, created.name, created.metadata) == ("ACTIVE", "Support", {"ticket": "T-1"})
    assert created.created_at is not None and created.created_at == created.updated_at
    assert created.participants == []


def test_create_conversation_snapshots_the_configuration(
    client: Any, configuration_id: str, callback_sink: str
) -> None:
    created = create_conversation(client, configuration_id)
    assert created.configuration["conversationGroupingType"] == "GROUP_BY_PARTICIPANT_ADDRESSES"
    assert created.configuration["memoryStoreId"] == MEMORY_STORE_ID
    assert created.configuration["channelSettings"] == {"SMS": {"statusTimeouts": {"inactive": 30, "closed": 60}}}
    assert created.configuration["statusCallbacks"] == [{"url": callback_sink, "method": "POST"}]


def test_inline_configuration_overrides_the_snapshot_for_this_conversation(client: Any, configuration_id: str) -> None:
    created = create_conversation(
        client,
        configuration_id,
        configuration={
            "intelligenceConfigurationIds": ["GA00000000000000000000000000000001"],
            "channelSettings": {"SMS": {"statusTimeouts": {"inactive": 5}}},
            "statusCallbacks": [{"url": "https://example.com/mine"}],
        },
    )
    assert created.configuration["intelligenceConfigurationIds"] == ["GA00000000000000000000000000000001"]
    assert created.configuration["channelSettings"]["SMS"] == {"statusTimeouts": {"inactive": 5, "closed": 60}}
    assert created.configuration["statusCallbacks"] == [{"url": "https://example.com/mine", "method": "POST"}]


def test_create_conversation_with_inline_participants_returns_them(client: Any, configuration_id: str) -> None:
    created = create_conversation(
        client,
        configuration_id,
        participants=[
            {"name": "Ada", "type": "CUSTOMER", "addresses": [{"channel": "SMS", "address": "+14155550100"}]},
            {"name": "Bot", "type": "AI_AGENT", "addresses": [{"channel": "CHAT", "address": "bot-1"}]},
        ],
    )
    assert [p["name"] for p in created.participants] == ["Ada", "Bot"]
    assert created.participants[0]["addresses"] == [{"channel": "SMS", "address": "+14155550100"}]
    assert all(p["conversationId"] == created.id for p in created.participants)


def test_create_conversation_with_an_unknown_configuration_is_404(client: Any) -> None:
    error = rest_error(lambda: create_conversation(client, "conv_configuration_01h00000000000000000000000"))
    assert (error.status, error.code) == (404, 20404)


def test_create_conversation_with_another_accounts_configuration_is_404(
    client: Any, other_configuration_id: str
) -> None:
    error = rest_error(lambda: create_conversation(client, other_configuration_id))
    assert (error.status, error.code) == (404, 20404)


def test_create_conversation_without_configuration_id_is_400(client: Any) -> None:
    request = ConversationList.CreateConversationWithConfigRequest({"name": "no config"})
    error = rest_error(lambda: client.conversations.v2.conversations.create(request))
    assert (error.status, error.code) == (400, 20001)
    assert "configurationId" in error.msg


def test_metadata_of_nine_entries_is_400(client: Any, configuration_id: str) -> None:
    metadata = {f"k{i}": "v" for i in range(9)}
    error = rest_error(lambda: create_conversation(client, configuration_id, metadata=metadata))
    assert (error.status, error.code) == (400, 20001)


def test_metadata_value_over_512_characters_is_400(client: Any, configuration_id: str) -> None:
    error = rest_error(lambda: create_conversation(client, configuration_id, metadata={"k": "x" * 513}))
    assert (error.status, error.code) == (400, 20001)


def test_name_over_256_characters_is_400(client: Any, configuration_id: str) -> None:
    error = rest_error(lambda: create_conversation(client, configuration_id, name="n" * 257))
    assert (error.status, error.code) == (400, 20001)


def test_unknown_participant_type_is_400(client: Any, configuration_id: str) -> None:
    participants = [{"type": "ROBOT", "addresses": []}]
    error = rest_error(lambda: create_conversation(client, configuration_id, participants=participants))
    assert (error.status, error.code) == (400, 20001)


def test_inline_participant_with_a_bad_address_is_400(client: Any, configuration_id: str) -> None:
    participants = [{"addresses": [{"channel": "SMS", "address": "555-0100"}]}]
    error = rest_error(lambda: create_conversation(client, configuration_id, participants=participants))
    assert (error.status, error.code) == (400, 20001)
    assert "E.164" in error.msg


def test_the_same_address_for_two_inline_participants_is_400(client: Any, configuration_id: str) -> None:
    address = {"channel": "SMS", "address": "+14155550100"}
    participants = [{"addresses": [address]}, {"addresses": [address]}]
    error = rest_error(lambda: create_conversation(client, configuration_id, participants=participants))
    assert (error.status, error.code) == (400, 20001)


def test_more_than_fifty_inline_participants_is_400(client: Any, configuration_id: str) -> None:
    participants = [{"addresses": []} for _ in range(51)]
    error = rest_error(lambda: create_conversation(client, configuration_id, participants=participants))
    assert (error.status, error.code) == (400, 20001)


def test_status_callback_that_is_not_an_absolute_url_is_400(client: Any, configuration_id: str) -> None:
    configuration = {"statusCallbacks": [{"url": "/relative"}]}
    error = rest_error(lambda: create_conversation(client, configuration_id, configuration=configuration))
    assert (error.status, error.code) == (400, 20001)


def test_text_with_a_nul_character_is_400(client: Any, configuration_id: str) -> None:
    # PostgreSQL cannot store U+0000: it must be refused as input, on every backend.
    error = rest_error(lambda: create_conversation(client, configuration_id, metadata={"k": "a\x00b"}))
    assert (error.status, error.code) == (400, 20001)


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post("/v2/Conversations", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_wrong_content_type_is_400(http: httpx.Client, configuration_id: str) -> None:
    response = http.post("/v2/Conversations", data={"configurationId": configuration_id})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_body_over_one_mebibyte_is_413(http: httpx.Client, configuration_id: str) -> None:
    body = b'{"configurationId": "%s", "name": "%s"}' % (configuration_id.encode(), b"x" * (1024 * 1024))
    response = http.post("/v2/Conversations", content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (413, 20001)


def test_wrong_credentials_are_401(server: LiveServer, account: Credentials) -> None:
    intruder = sdk_client(server, Credentials(account.account_sid, "0" * 32))
    error = rest_error(lambda: create_conversation(intruder, "conv_configuration_whatever"))
    assert (error.status, error.code) == (401, 20003)


def test_fetch_conversation_returns_it_with_its_participants(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, name="Fetch me")
    participant = add_participant(client, created.id, name="Ada")
    fetched = client.conversations.v2.conversations(created.id).fetch()
    assert (fetched.id, fetched.name, fetched.status) == (created.id, "Fetch me", "ACTIVE")
    assert [p["id"] for p in fetched.participants] == [participant.id]


def test_fetch_another_accounts_conversation_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    error = rest_error(lambda: client.conversations.v2.conversations(theirs.id).fetch())
    assert (error.status, error.code) == (404, 20404)


def test_fetch_unknown_conversation_is_404(client: Any) -> None:
    error = rest_error(lambda: client.conversations.v2.conversations("conv_conversation_nope").fetch())
    assert (error.status, error.code) == (404, 20404)


def test_list_conversations_shows_only_the_callers(
    client: Any, other_client: Any, configuration_id: str, other_configuration_id: str
) -> None:
    mine = create_conversation(client, configuration_id)
    create_conversation(other_client, other_configuration_id)
    assert [c.id for c in client.conversations.v2.conversations.list()] == [mine.id]


def test_list_conversations_filters_by_repeated_status(client: Any, configuration_id: str) -> None:
    active = create_conversation(client, configuration_id)
    inactive = create_conversation(client, configuration_id)
    closed = create_conversation(client, configuration_id)
    _patch(client, inactive.id, status="INACTIVE")
    _patch(client, closed.id, status="CLOSED")
    listed = client.conversations.v2.conversations.list(status=["ACTIVE", "CLOSED"])
    assert [c.id for c in listed] == [active.id, closed.id]
    assert [c.id for c in client.conversations.v2.conversations.list(status=["INACTIVE"])] == [inactive.id]


def test_list_conversations_with_an_unknown_status_is_400(http: httpx.Client) -> None:
    response = http.get("/v2/Conversations", params={"status": "OPEN"})
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_list_conversations_filters_by_channel_id(client: Any, configuration_id: str) -> None:
    with_call = create_conversation(client, configuration_id)
    create_conversation(client, configuration_id)
    record_communication(client, with_call.id, channelId="CA00000000000000000000000000000001")
    listed = client.conversations.v2.conversations.list(channel_id="CA00000000000000000000000000000001")
    assert [c.id for c in listed] == [with_call.id]


def test_put_replaces_status_name_and_metadata(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, name="Before", metadata={"a": "1", "b": "2"})
    updated = _put(client, created.id, status="INACTIVE", name="After", metadata={"c": "3"})
    assert (updated.status, updated.name, updated.metadata) == ("INACTIVE", "After", {"c": "3"})
    assert updated.updated_at >= created.updated_at


def test_put_keeps_name_and_metadata_it_does_not_give(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, name="Keep", metadata={"a": "1"})
    updated = _put(client, created.id, status="INACTIVE")
    assert (updated.status, updated.name, updated.metadata) == ("INACTIVE", "Keep", {"a": "1"})


def test_put_without_status_is_400(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    error = rest_error(lambda: _put(client, created.id, name="x"))
    assert (error.status, error.code) == (400, 20001)
    assert "status" in error.msg


def test_patch_merges_metadata(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, metadata={"a": "1", "b": "2"})
    patched = _patch(client, created.id, metadata={"b": "20", "c": "3"})
    assert patched.metadata == {"a": "1", "b": "20", "c": "3"}
    assert patched.status == "ACTIVE"


def test_patch_metadata_null_value_removes_its_key(client: Any, http: httpx.Client, configuration_id: str) -> None:
    # The SDK drops every null before sending, so this takes a plain HTTP client.
    created = create_conversation(client, configuration_id, metadata={"a": "1", "b": "2"})
    response = http.patch(f"/v2/Conversations/{created.id}", json={"metadata": {"b": None, "c": "3"}})
    assert (response.status_code, response.json()["metadata"]) == (200, {"a": "1", "c": "3"})


def test_patch_leaves_out_fields_unchanged(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, name="Stay", metadata={"a": "1"})
    patched = _patch(client, created.id, status="INACTIVE")
    assert (patched.name, patched.metadata, patched.status) == ("Stay", {"a": "1"}, "INACTIVE")


def test_patch_with_an_empty_name_clears_it(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, name="Named")
    assert _patch(client, created.id, name="").name is None


def test_patch_that_would_leave_nine_metadata_entries_is_400(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id, metadata={f"k{i}": "v" for i in range(8)})
    error = rest_error(lambda: _patch(client, created.id, metadata={"k9": "v"}))
    assert (error.status, error.code) == (400, 20001)


def test_patch_status_callbacks_overrides_the_configurations(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    patched = _patch(client, created.id, configuration={"statusCallbacks": [{"url": "https://example.org/cb"}]})
    assert patched.configuration["statusCallbacks"] == [{"url": "https://example.org/cb", "method": "POST"}]
    # A later patch without callbacks keeps the override.
    assert _patch(client, created.id, name="x").configuration["statusCallbacks"][0]["url"] == "https://example.org/cb"


def test_patch_with_empty_status_callbacks_stops_delivery(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    patched = _patch(client, created.id, configuration={"statusCallbacks": []})
    assert patched.configuration["statusCallbacks"] == []


def test_active_and_inactive_move_both_ways(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    assert _patch(client, created.id, status="INACTIVE").status == "INACTIVE"
    assert _patch(client, created.id, status="ACTIVE").status == "ACTIVE"


@pytest.mark.parametrize("target", ["ACTIVE", "INACTIVE"])
def test_closed_is_final(client: Any, configuration_id: str, target: str) -> None:
    created = create_conversation(client, configuration_id)
    assert _patch(client, created.id, status="CLOSED").status == "CLOSED"
    error = rest_error(lambda: _patch(client, created.id, status=target))
    assert (error.status, error.code) == (409, 20409)
    assert "CLOSED" in error.msg
    assert client.conversations.v2.conversations(created.id).fetch().status == "CLOSED"


def test_closed_conversation_still_takes_metadata(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    _patch(client, created.id, status="CLOSED")
    assert _patch(client, created.id, metadata={"resolution": "refund"}).metadata == {"resolution": "refund"}


def test_unknown_status_in_patch_is_400(client: Any, configuration_id: str) -> None:
    created = create_conversation(client, configuration_id)
    error = rest_error(lambda: _patch(client, created.id, status="DONE"))
    assert (error.status, error.code) == (400, 20001)


def test_patch_another_accounts_conversation_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    error = rest_error(lambda: _patch(client, theirs.id, name="mine now"))
    assert (error.status, error.code) == (404, 20404)


def _wait_for_operation(client: Any, operation_id: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        operation = client.conversations.v2.operations(operation_id).fetch()
        if operation.status in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return operation
        time.sleep(0.05)


def test_delete_is_an_operation_that_removes_the_conversation_and_all_it_holds(
    client: Any, configuration_id: str, database_url: str
) -> None:
    created = create_conversation(client, configuration_id)
    participant = add_participant(client, created.id, addresses=[{"channel": "SMS", "address": "+14155550100"}])
    communication = record_communication(client, created.id)

    answer = client.conversations.v2.conversations(created.id).delete_with_http_info()
    assert answer.status_code == 202
    assert answer.data["related"] == {"conversationId": created.id}
    headers = {name.lower(): value for name, value in answer.headers.items()}
    operation = _wait_for_operation(client, headers["operation-id"])
    assert operation.status == "COMPLETED"

    error = rest_error(lambda: client.conversations.v2.conversations(created.id).fetch())
    assert error.status == 404

    async def leftovers(tx: Any) -> tuple[Any, Any, Any]:
        return (
            await tx.participants.get(created.id, participant.id),
            await tx.communications.get(created.id, communication.id),
            await tx.participants.find_by_address(created.id, "SMS", "+14155550100"),
        )

    assert in_store(database_url, leftovers) == (None, None, None)


def test_delete_replayed_with_its_idempotency_key_after_the_deletion_answers_as_first(
    client: Any, http: httpx.Client, configuration_id: str
) -> None:
    # twilio-python 9.13 drops the Idempotency-Key of a conversation delete, so this takes a plain HTTP client.
    created = create_conversation(client, configuration_id)
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = http.delete(f"/v2/Conversations/{created.id}", headers=headers)
    assert first.status_code == 202
    assert _wait_for_operation(client, first.headers["Operation-Id"]).status == "COMPLETED"
    again = http.delete(f"/v2/Conversations/{created.id}", headers=headers)
    assert (again.status_code, again.json()) == (202, first.json())
    assert http.delete(f"/v2/Conversations/{created.id}").status_code == 404


def test_delete_another_accounts_conversation_is_404(
    client: Any, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    error = rest_error(lambda: client.conversations.v2.conversations(theirs.id).delete())
    assert (error.status, error.code) == (404, 20404)
    assert other_client.conversations.v2.conversations(theirs.id).fetch().id == theirs.id
