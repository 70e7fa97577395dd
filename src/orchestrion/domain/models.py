"""The resources of the orchestrator, as plain immutable records.

Times are epoch milliseconds (see ``clock``). JSON-shaped settings that the
orchestrator carries but does not interpret are kept as plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrion.domain.channels import Channel

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Account:
    sid: str
    auth_token: str = field(repr=False)
    created_ms: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    sid: str
    account_sid: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Configuration:
    id: str
    account_sid: str
    display_name: str
    description: str
    grouping_type: str
    memory_store_id: str
    settings: Json  # channelSettings, statusCallbacks, intelligence ids, ...
    version: int
    created_ms: int
    updated_ms: int


class ConversationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    account_sid: str
    configuration_id: str
    configuration_version: int
    # Settings of the configuration as they were when the conversation began.
    configuration: Json
    status: ConversationStatus
    name: str | None
    metadata: dict[str, str]
    status_callbacks: list[Json] | None  # per-conversation override
    created_ms: int
    updated_ms: int


def effective_status_callbacks(conversation: Conversation) -> list[Json]:
    """Where this conversation's status callbacks go: its override, else its configuration's."""
    if conversation.status_callbacks is not None:
        return list(conversation.status_callbacks)
    return list(conversation.configuration.get("statusCallbacks") or [])


@dataclass(frozen=True, slots=True)
class Address:
    channel: Channel
    address: str
    channel_id: str | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    conversation_id: str
    account_sid: str
    name: str | None
    type: str | None
    profile_id: str | None
    addresses: tuple[Address, ...]
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class ConversationView:
    """A conversation with its participants, as the API shows it."""

    conversation: Conversation
    participants: tuple[Participant, ...]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of a Communication: an address, linked to a participant when known."""

    address: str
    channel: Channel
    participant_id: str | None = None
    delivery_status: str | None = None


@dataclass(frozen=True, slots=True)
class Communication:
    id: str
    conversation_id: str
    account_sid: str
    author: Endpoint
    content: Json
    channel_id: str | None
    resource_id: str | None
    recipients: tuple[Endpoint, ...]
    occurred_ms: int
    created_ms: int
    updated_ms: int


class ActionStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    conversation_id: str
    account_sid: str
    type: str
    status: ActionStatus
    related: dict[str, str]
    request: Json  # the resolved send request, carried to the dispatcher
    failure_reason: str | None
    created_ms: int
    updated_ms: int
    completed_ms: int | None


@dataclass(frozen=True, slots=True)
class ActionView:
    """What a status read returns: an Action without the resolved request it carries to the dispatcher."""

    id: str
    conversation_id: str
    type: str
    status: ActionStatus
    related: dict[str, str]
    failure_reason: str | None
    created_ms: int
    updated_ms: int
    completed_ms: int | None


class OperationStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    account_sid: str
    kind: str
    status: OperationStatus
    related: dict[str, str]
    error: Json | None
    created_ms: int
    updated_ms: int
    completed_ms: int | None


@dataclass(frozen=True, slots=True)
class Job:
    """A unit of background work in the outbox."""

    id: int
    kind: str
    payload: Json
    attempts: int
    max_attempts: int
    run_at_ms: int
    lease_until_ms: int | None
