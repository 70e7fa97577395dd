"""Rules of conversations, participants and communications that need no I/O."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrion.api.schemas.communications import CreateCommunicationBody
from orchestrion.api.schemas.conversations import CreateConversationBody, PatchConversationBody
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput, InvalidState
from orchestrion.domain.models import Address, Configuration, Conversation, ConversationStatus
from orchestrion.services.conversations import (
    ConversationChange,
    apply_change,
    effective_status_callbacks,
    merge_metadata,
    snapshot,
)
from orchestrion.services.participants import ParticipantFields, check_addresses, check_distinct

CONFIGURATION = Configuration(
    id="conv_configuration_x",
    account_sid="AC" + "0" * 32,
    display_name="Support",
    description="",
    grouping_type="GROUP_BY_PROFILE",
    memory_store_id="mem_store_1",
    settings={
        "channelSettings": {"SMS": {"statusTimeouts": {"inactive": 30, "closed": 60}, "captureRules": []}},
        "statusCallbacks": [{"url": "https://example.com/a", "method": "POST"}],
        "intelligenceConfigurationIds": [],
        "memoryExtractionEnabled": False,
        "conversationsV1Bridge": None,
    },
    version=3,
    created_ms=0,
    updated_ms=0,
)

CONVERSATION = Conversation(
    id="conv_conversation_x",
    account_sid=CONFIGURATION.account_sid,
    configuration_id=CONFIGURATION.id,
    configuration_version=3,
    configuration=snapshot(CONFIGURATION, {}),
    status=ConversationStatus.ACTIVE,
    name="Ada",
    metadata={"a": "1"},
    status_callbacks=None,
    created_ms=0,
    updated_ms=0,
)


def test_snapshot_carries_the_configurations_settings() -> None:
    taken = snapshot(CONFIGURATION, {})
    assert taken["displayName"] == "Support"
    assert taken["conversationGroupingType"] == "GROUP_BY_PROFILE"
    assert taken["memoryStoreId"] == "mem_store_1"
    assert taken["statusCallbacks"] == [{"url": "https://example.com/a", "method": "POST"}]
    assert "conversationsV1Bridge" not in taken


def test_snapshot_merges_inline_channel_settings_into_the_configurations() -> None:
    taken = snapshot(CONFIGURATION, {"channelSettings": {"SMS": {"statusTimeouts": {"inactive": 5}}}})
    assert taken["channelSettings"]["SMS"] == {"statusTimeouts": {"inactive": 5, "closed": 60}, "captureRules": []}


def test_snapshot_is_a_copy_the_configuration_cannot_change_later() -> None:
    taken = snapshot(CONFIGURATION, {})
    CONFIGURATION.settings["statusCallbacks"].append({"url": "https://example.com/b"})
    try:
        assert len(taken["statusCallbacks"]) == 1
    finally:
        CONFIGURATION.settings["statusCallbacks"].pop()


def test_status_callbacks_come_from_the_override_when_there_is_one() -> None:
    assert effective_status_callbacks(CONVERSATION) == [{"url": "https://example.com/a", "method": "POST"}]
    stopped = dataclasses.replace(CONVERSATION, status_callbacks=[])
    assert effective_status_callbacks(stopped) == []


def test_merge_metadata_patch_adds_updates_and_removes() -> None:
    assert merge_metadata({"a": "1", "b": "2"}, {"b": None, "c": "3"}, replace=False) == {"a": "1", "c": "3"}


def test_merge_metadata_replace_drops_what_is_not_given() -> None:
    assert merge_metadata({"a": "1", "b": "2"}, {"c": "3"}, replace=True) == {"c": "3"}


def test_merge_metadata_refuses_more_than_eight_entries() -> None:
    with pytest.raises(InvalidInput):
        merge_metadata({f"k{i}": "v" for i in range(8)}, {"k8": "v"}, replace=False)


def test_apply_change_leaves_what_is_not_given() -> None:
    assert apply_change(CONVERSATION, ConversationChange()) == CONVERSATION


def test_apply_change_empty_name_clears_it() -> None:
    assert apply_change(CONVERSATION, ConversationChange(name="")).name is None


def test_apply_change_refuses_to_reopen_a_closed_conversation() -> None:
    closed = dataclasses.replace(CONVERSATION, status=ConversationStatus.CLOSED)
    with pytest.raises(InvalidState):
        apply_change(closed, ConversationChange(status=ConversationStatus.ACTIVE))


def test_apply_change_sets_the_status_callbacks_override() -> None:
    changed = apply_change(CONVERSATION, ConversationChange(status_callbacks=({"url": "https://x.test/"},)))
    assert changed.status_callbacks == [{"url": "https://x.test/"}]


def test_check_addresses_refuses_a_repeated_address() -> None:
    sms = Address(Channel.SMS, "+14155550100")
    with pytest.raises(InvalidInput, match="twice"):
        check_addresses([sms, sms])


def test_check_distinct_refuses_one_address_for_two_participants() -> None:
    sms = Address(Channel.SMS, "+14155550100")
    with pytest.raises(InvalidInput, match=r"participants\[0\] and participants\[1\]"):
        check_distinct([ParticipantFields(addresses=(sms,)), ParticipantFields(addresses=(sms,))])


def test_word_timings_are_stored_in_the_wire_form() -> None:
    body = CreateCommunicationBody.model_validate(
        {
            "author": {"address": "+14155550100", "channel": "VOICE"},
            "content": {
                "type": "TRANSCRIPTION",
                "text": "hi",
                "transcription": {"words": [{"text": "hi", "endTime": "2026-03-30T12:30:00.5+02:00"}]},
            },
            "recipients": [{"address": "+14155550199", "channel": "VOICE"}],
        }
    )
    assert body.to_new().content["transcription"]["words"] == [{"text": "hi", "endTime": "2026-03-30T10:30:00Z"}]


def test_occurred_at_before_1970_is_refused() -> None:
    with pytest.raises(ValueError, match="1970"):
        CreateCommunicationBody.model_validate(
            {
                "author": {"address": "a", "channel": "CHAT"},
                "content": {"type": "TEXT", "text": "x"},
                "recipients": [{"address": "b", "channel": "CHAT"}],
                "occurredAt": "1969-12-31T23:59:59Z",
            }
        )


def test_metadata_keys_are_limited_to_letters_digits_and_dot_dash_underscore() -> None:
    with pytest.raises(ValueError, match="pattern"):
        CreateConversationBody.model_validate({"configurationId": "c", "metadata": {"a key": "v"}})


def test_patch_without_callbacks_leaves_the_override_alone() -> None:
    assert PatchConversationBody.model_validate({"configuration": {}}).change().status_callbacks is None
    assert (
        PatchConversationBody.model_validate({"configuration": {"statusCallbacks": []}}).change().status_callbacks == ()
    )
