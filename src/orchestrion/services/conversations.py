"""Conversations: create from a configuration, read, list, update, delete.

A conversation snapshots its configuration when it begins
(``Conversation.configuration``, camelCase keys as on the wire), so a later
change to the configuration never alters a conversation already running.
Inline ``configuration`` settings of the create request override the
snapshot's; inline ``statusCallbacks`` become the per-conversation override
(``Conversation.status_callbacks``), as a PATCH of
``configuration.statusCallbacks`` does later.

A create whose inline participants already form an open conversation of the
configuration (``services.grouping``, the rule ingestion groups messages by)
is a Conflict naming that conversation, so the caller reuses it. With
GROUP_BY_PROFILE a CUSTOMER given without a profileId gets its profile first,
as ingestion gives one to the customers it meets.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from orchestrion.domain import ids
from orchestrion.domain.errors import Conflict, InvalidInput, NotFound
from orchestrion.domain.grouping import BY_PROFILE, address_forms
from orchestrion.domain.lifecycle import check_conversation_move
from orchestrion.domain.models import (
    Configuration,
    Conversation,
    ConversationStatus,
    ConversationView,
    Json,
    effective_status_callbacks,
)
from orchestrion.domain.webhooks import EventType
from orchestrion.services import events, grouping, lifecycle
from orchestrion.services.context import Context
from orchestrion.services.participants import (
    ParticipantFields,
    add_participant,
    check_addresses,
    check_distinct,
    load_conversation,
)
from orchestrion.services.webhooks import check_callback_urls
from orchestrion.store.paging import Page, PageRequest
from orchestrion.store.store import Tx

__all__ = [
    "ConversationChange",
    "ConversationView",
    "NewConversation",
    "check_delete",
    "create_conversation",
    "delete_conversation_now",
    "effective_status_callbacks",
    "get_conversation",
    "list_conversations",
    "load_conversation",
    "merge_metadata",
    "reactivate",
    "snapshot",
    "update_conversation",
]

log = structlog.get_logger("orchestrion.conversations")

MAX_METADATA_ENTRIES = 8
MAX_INLINE_PARTICIPANTS = 50

# Configuration settings a conversation carries over from its configuration.
SNAPSHOT_SETTINGS = (
    "channelSettings",
    "statusCallbacks",
    "intelligenceConfigurationIds",
    "traitExtractionStrategyIds",
    "observationExtractionStrategyIds",
    "memoryExtractionEnabled",
    "conversationsV1Bridge",
    "workflows",
)


@dataclass(frozen=True, slots=True)
class NewConversation:
    configuration_id: str
    name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    participants: tuple[ParticipantFields, ...] = ()
    # Inline configuration settings (camelCase, nulls removed), statusCallbacks excluded.
    settings: Json = field(default_factory=dict)
    status_callbacks: tuple[Json, ...] | None = None


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """A PUT or PATCH. None means "leave as is"."""

    status: ConversationStatus | None = None
    name: str | None = None  # "" clears the name
    metadata: Mapping[str, str | None] | None = None
    replace_metadata: bool = False  # PUT replaces; PATCH merges (None values remove keys)
    status_callbacks: tuple[Json, ...] | None = None  # () stops delivery


def snapshot(configuration: Configuration, settings: Json) -> Json:
    """The configuration as this conversation will keep it, inline settings applied."""
    out: Json = {
        "displayName": configuration.display_name,
        "conversationGroupingType": configuration.grouping_type,
    }
    if configuration.memory_store_id:
        out["memoryStoreId"] = configuration.memory_store_id
    for key in SNAPSHOT_SETTINGS:
        value = configuration.settings.get(key)
        if value is not None:
            out[key] = copy.deepcopy(value)
    return _merged(out, settings)


def _merged(base: Json, override: Json) -> Json:
    """``base`` with ``override`` applied: objects merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merged(current, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge_metadata(current: Mapping[str, str], patch: Mapping[str, str | None], *, replace: bool) -> dict[str, str]:
    """PUT replaces the metadata; PATCH merges it, a None value removing its key."""
    merged: dict[str, str] = {} if replace else dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_METADATA_ENTRIES:
        raise InvalidInput(
            f"metadata has at most {MAX_METADATA_ENTRIES} entries; this change would leave {len(merged)}"
        )
    return merged


def apply_change(current: Conversation, change: ConversationChange) -> Conversation:
    """The conversation after ``change`` (same timestamps); raises if the status move is not allowed."""
    status = current.status
    if change.status is not None:
        check_conversation_move(current.status, change.status)
        status = change.status
    name = current.name
    if change.name is not None:
        name = change.name or None
    metadata = current.metadata
    if change.metadata is not None:
        metadata = merge_metadata(current.metadata, change.metadata, replace=change.replace_metadata)
    callbacks = current.status_callbacks
    if change.status_callbacks is not None:
        callbacks = [dict(c) for c in change.status_callbacks]
    return dataclasses.replace(current, status=status, name=name, metadata=metadata, status_callbacks=callbacks)


async def create_conversation(ctx: Context, account_sid: str, new: NewConversation) -> ConversationView:
    if len(new.participants) > MAX_INLINE_PARTICIPANTS:
        raise InvalidInput(f"A conversation is created with at most {MAX_INLINE_PARTICIPANTS} participants")
    for fields in new.participants:
        check_addresses(fields.addresses or ())
    check_distinct(new.participants)
    if len(new.metadata) > MAX_METADATA_ENTRIES:
        raise InvalidInput(f"metadata has at most {MAX_METADATA_ENTRIES} entries")
    await check_callback_urls(ctx, new.status_callbacks, "configuration.statusCallbacks")
    async with ctx.store.write() as tx:
        configuration = (
            await tx.configurations.get(account_sid, new.configuration_id)
            if ids.is_id(new.configuration_id, ids.CONFIGURATION)
            else None
        )
        if configuration is None:
            raise NotFound("Configuration", new.configuration_id)
        settings = snapshot(configuration, new.settings)
        grouping_type = settings["conversationGroupingType"]
        inline = new.participants
        if grouping_type == BY_PROFILE:
            inline = await grouping.with_profiles(ctx, tx, account_sid, inline)
        existing = await grouping.open_conversation_of(tx, account_sid, configuration.id, grouping_type, inline)
        if existing is not None:
            raise Conflict(
                f"Conversation {existing} of configuration {configuration.id} is open with these participants "
                f"({grouping_type}): use it",
                existing,
            )
        now = ctx.clock.now_ms()
        conversation = Conversation(
            id=ids.new_id(ids.CONVERSATION),
            account_sid=account_sid,
            configuration_id=configuration.id,
            configuration_version=configuration.version,
            configuration=settings,
            status=ConversationStatus.ACTIVE,
            name=new.name or None,
            metadata=dict(new.metadata),
            status_callbacks=None if new.status_callbacks is None else [dict(c) for c in new.status_callbacks],
            created_ms=now,
            updated_ms=now,
        )
        await tx.conversations.insert(conversation, last_activity_ms=now)
        await lifecycle.schedule(ctx, tx, conversation, now)
        participants = [await add_participant(tx, conversation, fields, now) for fields in inline]
        await events.conversation_event(ctx, tx, conversation, EventType.CONVERSATION_CREATED, participants)
        for participant in participants:
            await events.participant_event(ctx, tx, conversation, EventType.PARTICIPANT_ADDED, participant)
    log.info("conversation_created", account_sid=account_sid, conversation_id=conversation.id)
    return ConversationView(conversation, tuple(participants))


async def get_conversation(ctx: Context, account_sid: str, conversation_id: str) -> ConversationView:
    async with ctx.store.read() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id)
        participants = await tx.participants.all_for([conversation.id])
    return ConversationView(conversation, tuple(participants[conversation.id]))


async def list_conversations(
    ctx: Context,
    account_sid: str,
    page: PageRequest,
    *,
    statuses: Sequence[ConversationStatus] = (),
    channel_id: str | None = None,
    configuration_id: str | None = None,
    address: str | None = None,
) -> Page[ConversationView]:
    """``address``: with a participant at that address (a phone number in any of its channel forms)."""
    async with ctx.store.read() as tx:
        found = await tx.conversations.list(
            account_sid,
            page,
            statuses=[str(s) for s in statuses],
            channel_id=channel_id,
            configuration_id=configuration_id,
            addresses=address_forms(address) if address else (),
        )
        participants = await tx.participants.all_for([c.id for c in found.items])
    return Page(
        [ConversationView(c, tuple(participants[c.id])) for c in found.items],
        more_after=found.more_after,
        more_before=found.more_before,
    )


async def update_conversation(
    ctx: Context, account_sid: str, conversation_id: str, change: ConversationChange
) -> ConversationView:
    await check_callback_urls(ctx, change.status_callbacks, "configuration.statusCallbacks")
    async with ctx.store.write() as tx:
        current = await load_conversation(tx, account_sid, conversation_id, for_update=True)
        changed = apply_change(current, change)
        if changed != current:
            changed = dataclasses.replace(changed, updated_ms=ctx.clock.now_ms())
            await tx.conversations.update(changed)
            await events.conversation_event(ctx, tx, changed, EventType.CONVERSATION_UPDATED)
            if changed.status is not current.status:
                if changed.status is ConversationStatus.ACTIVE:
                    # Reopened by hand: that counts as activity, or a status timeout would close it again at once.
                    await tx.conversations.touch(conversation_id, changed.updated_ms)
                await _rearm(ctx, tx, changed)
        participants = await tx.participants.all_for([conversation_id])
    if changed.status is not current.status:
        log.info(
            "conversation_status_changed",
            account_sid=account_sid,
            conversation_id=conversation_id,
            previous=str(current.status),
            status=str(changed.status),
        )
    return ConversationView(changed, tuple(participants[conversation_id]))


async def check_delete(tx: Tx, account_sid: str, conversation_id: str) -> None:
    """At request time, inside the transaction that records the delete operation: the conversation exists."""
    await load_conversation(tx, account_sid, conversation_id)


async def delete_conversation_now(ctx: Context, tx: Tx, account_sid: str, conversation_id: str) -> None:
    """Delete a conversation and everything in it (participants, communications, actions cascade).

    Called by the operation applier inside its transaction. Deleting a
    conversation that is already gone is not an error: a retried operation
    must still complete.
    """
    deleted = await tx.conversations.delete(account_sid, conversation_id)
    log.info("conversation_deleted", account_sid=account_sid, conversation_id=conversation_id, existed=deleted)


async def reactivate(ctx: Context, tx: Tx, conversation: Conversation) -> Conversation:
    """A new communication brings an INACTIVE conversation back to ACTIVE (CLOSED stays CLOSED)."""
    if conversation.status is not ConversationStatus.INACTIVE:
        return conversation
    changed = dataclasses.replace(conversation, status=ConversationStatus.ACTIVE, updated_ms=ctx.clock.now_ms())
    await tx.conversations.update(changed)
    await events.conversation_event(ctx, tx, changed, EventType.CONVERSATION_UPDATED)
    await _rearm(ctx, tx, changed)
    log.info(
        "conversation_status_changed",
        account_sid=conversation.account_sid,
        conversation_id=conversation.id,
        previous=str(conversation.status),
        status=str(changed.status),
    )
    return changed


async def _rearm(ctx: Context, tx: Tx, conversation: Conversation) -> None:
    """A status change may bring the next status timeout earlier: make sure a timer is armed for it."""
    last_activity = await tx.lifecycle.last_activity_ms(conversation.id)
    if last_activity is not None:
        await lifecycle.schedule(ctx, tx, conversation, last_activity)
