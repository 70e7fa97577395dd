"""Configuration request bodies: create (POST), replace (PUT) and patch (PATCH).

Where the reference schema sets no limit, these are ours: descriptions up to
1024 characters, status timeouts from 1 minute to one year, 100 capture rules
per channel, capture-rule metadata of 16 entries (keys up to 64 characters,
values up to 256), intelligence configuration ids up to 128 characters.
memoryStoreId must have the form of a memory store id (the pattern the list
filter declares). Requests carry at most 2 status callbacks, as the request
schemas say; the 20 of the resource schema can never be reached.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictBool, StringConstraints, model_validator

from orchestrion.api.schemas.common import Wire, drop_nulls
from orchestrion.domain.channels import Channel

MAX_DESCRIPTION = 1024
MAX_TIMEOUT_MINUTES = 525_600
MAX_CAPTURE_RULES = 100
MAX_STATUS_CALLBACKS = 2
MAX_INTELLIGENCE_IDS = 5

DISPLAY_NAME_PATTERN = r"^[a-zA-Z0-9_ -]+$"
MEMORY_STORE_PATTERN = r"^mem_(store|service)_[0-7][0-9a-z]{25}$"
V1_SERVICE_PATTERN = r"^IS[0-9a-f]{32}$"


class GroupingType(StrEnum):
    GROUP_BY_PROFILE = "GROUP_BY_PROFILE"
    GROUP_BY_PARTICIPANT_ADDRESSES = "GROUP_BY_PARTICIPANT_ADDRESSES"
    GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE = "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE"


def _http_url(value: str) -> str:
    if any(ch.isspace() for ch in value):
        raise ValueError("must not contain white space")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as error:
        raise ValueError("must be an absolute http or https URL") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return value


DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=DISPLAY_NAME_PATTERN)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
MemoryStoreId = Annotated[str, StringConstraints(pattern=MEMORY_STORE_PATTERN)]
Minutes = Annotated[int, Field(strict=True, ge=1, le=MAX_TIMEOUT_MINUTES)]
RuleAddress = Annotated[str, StringConstraints(min_length=1, max_length=256)]
RuleMetadata = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64)],
        Annotated[str, StringConstraints(max_length=256)],
    ],
    Field(max_length=16),
]
CallbackUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_http_url)]
IntelligenceId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _nul_at(value: Any, path: str) -> str | None:
    """Where a NUL character hides in ``value`` (PostgreSQL cannot store one), if anywhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = _nul_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_at(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


class Body(Wire):
    """Null means absent at every level, so a null required field reads as a missing one."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        where = _nul_at(data, "")
        if where is not None:
            raise ValueError(f"{where} must not contain NUL characters")
        return {key: value for key, value in data.items() if value is not None}


class StatusTimeoutsIn(Body):
    inactive: Minutes | None = None
    closed: Minutes | None = None


class CaptureRuleIn(Body):
    from_: RuleAddress = Field(alias="from")
    to: RuleAddress
    metadata: RuleMetadata | None = None


class ChannelSettingIn(Body):
    status_timeouts: StatusTimeoutsIn | None = None
    capture_rules: Annotated[list[CaptureRuleIn], Field(max_length=MAX_CAPTURE_RULES)] | None = None


class StatusCallbackIn(Body):
    url: CallbackUrl
    method: Literal["POST", "GET"] = "POST"


class V1BridgeIn(Body):
    service_id: Annotated[str, StringConstraints(pattern=V1_SERVICE_PATTERN)]


ChannelSettings = dict[Channel, ChannelSettingIn]


class _Settings(Body):
    channel_settings: ChannelSettings | None = None
    status_callbacks: Annotated[list[StatusCallbackIn], Field(max_length=MAX_STATUS_CALLBACKS)] | None = None
    intelligence_configuration_ids: Annotated[list[IntelligenceId], Field(max_length=MAX_INTELLIGENCE_IDS)] | None = (
        None
    )
    memory_extraction_enabled: StrictBool | None = None
    conversations_v1_bridge: V1BridgeIn | None = None

    def payload(self) -> dict[str, Any]:
        """The request as the operation records it: camelCase, nulls removed."""
        data: dict[str, Any] = drop_nulls(self.model_dump(mode="json", by_alias=True, exclude_none=True))
        return data


class CreateConfigurationIn(_Settings):
    display_name: DisplayName
    description: Description
    conversation_grouping_type: GroupingType
    memory_store_id: MemoryStoreId


class ReplaceConfigurationIn(_Settings):
    """PUT replaces every field; a missing displayName keeps the current one."""

    display_name: DisplayName | None = None
    description: Description
    conversation_grouping_type: GroupingType
    memory_store_id: MemoryStoreId
    channel_settings: ChannelSettings


class PatchConfigurationIn(_Settings):
    """PATCH changes only the fields given; channelSettings merges per channel."""

    display_name: DisplayName | None = None
    description: Description | None = None
    conversation_grouping_type: GroupingType | None = None
    memory_store_id: MemoryStoreId | None = None
