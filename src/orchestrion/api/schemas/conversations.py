"""Conversation request bodies."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StringConstraints

from orchestrion.api.schemas.common import ShortText, drop_nulls
from orchestrion.api.schemas.participants import Addresses, Body, ParticipantBody
from orchestrion.domain.channels import Channel
from orchestrion.domain.models import ConversationStatus, Json
from orchestrion.services.conversations import (
    MAX_INLINE_PARTICIPANTS,
    MAX_METADATA_ENTRIES,
    ConversationChange,
    NewConversation,
)

MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,128}$")]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]
Metadata = Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_METADATA_ENTRIES)]
MetadataPatch = Annotated[dict[MetadataKey, MetadataValue | None], Field(max_length=MAX_METADATA_ENTRIES)]
Ids = Annotated[list[ShortText], Field(max_length=5)]
OneId = Annotated[list[ShortText], Field(max_length=1)]


# As for configurations: timeouts up to one year, in minutes.
MAX_TIMEOUT_MINUTES = 525_600
Minutes = Annotated[int, Field(strict=True, ge=1, le=MAX_TIMEOUT_MINUTES)]


def _absolute_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise ValueError("must be an absolute http or https URL") from error
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in value):
        raise ValueError("must be an absolute http or https URL")
    return value


class GroupingType(StrEnum):
    GROUP_BY_PROFILE = "GROUP_BY_PROFILE"
    GROUP_BY_PARTICIPANT_ADDRESSES = "GROUP_BY_PARTICIPANT_ADDRESSES"
    GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE = "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE"


class StatusCallbackBody(Body):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_absolute_http_url)]
    method: Literal["POST", "GET"] = "POST"

    def as_json(self) -> Json:
        return {"url": self.url, "method": self.method}


StatusCallbacks = Annotated[list[StatusCallbackBody], Field(max_length=20)]


class StatusTimeoutsBody(Body):
    inactive: Minutes | None = None
    closed: Minutes | None = None


class ChannelSettingBody(Body):
    status_timeouts: StatusTimeoutsBody | None = None


class WorkflowBody(Body):
    flow_id: Annotated[str, StringConstraints(pattern=r"^FW[0-9a-fA-F]{32}$")]


class InlineConfigurationBody(Body):
    """Settings that override, for this conversation only, those of its configuration."""

    conversation_grouping_type: GroupingType | None = None
    memory_store_id: ShortText | None = None
    channel_settings: dict[Channel, ChannelSettingBody] | None = None
    memory_extraction_enabled: StrictBool | None = None
    intelligence_configuration_ids: Ids | None = None
    trait_extraction_strategy_ids: OneId | None = None
    observation_extraction_strategy_ids: OneId | None = None
    status_callbacks: StatusCallbacks | None = None
    workflows: Annotated[list[WorkflowBody], Field(max_length=5)] | None = None

    def settings(self) -> Json:
        data: dict[str, Any] = drop_nulls(self.model_dump(mode="json", by_alias=True, exclude={"status_callbacks"}))
        return {k: v for k, v in data.items() if v != {}}


class InlineParticipantBody(ParticipantBody):
    addresses: Addresses | None = None


class CreateConversationBody(Body):
    configuration_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: ShortText | None = None
    configuration: InlineConfigurationBody | None = None
    participants: Annotated[list[InlineParticipantBody], Field(max_length=MAX_INLINE_PARTICIPANTS)] | None = None
    metadata: Metadata | None = None

    def to_new(self) -> NewConversation:
        inline = self.configuration
        callbacks = None if inline is None or inline.status_callbacks is None else inline.status_callbacks
        return NewConversation(
            configuration_id=self.configuration_id,
            name=self.name,
            metadata=self.metadata or {},
            participants=tuple(p.fields() for p in self.participants or ()),
            settings={} if inline is None else inline.settings(),
            status_callbacks=None if callbacks is None else tuple(c.as_json() for c in callbacks),
        )


class ReplaceConversationBody(Body):
    """PUT: status is required; a name or metadata given replaces the current one."""

    status: ConversationStatus
    name: ShortText | None = None
    metadata: Metadata | None = None

    def change(self) -> ConversationChange:
        return ConversationChange(status=self.status, name=self.name, metadata=self.metadata, replace_metadata=True)


class PatchConfigurationBody(Body):
    status_callbacks: StatusCallbacks | None = None


class PatchConversationBody(Body):
    """PATCH: only what is given changes; metadata merges, a null value removing its key."""

    status: ConversationStatus | None = None
    name: ShortText | None = None
    configuration: PatchConfigurationBody | None = None
    metadata: MetadataPatch | None = None

    def change(self) -> ConversationChange:
        callbacks = None if self.configuration is None else self.configuration.status_callbacks
        return ConversationChange(
            status=self.status,
            name=self.name,
            metadata=self.metadata,
            status_callbacks=None if callbacks is None else tuple(c.as_json() for c in callbacks),
        )
