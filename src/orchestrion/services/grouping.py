"""Grouping (``domain.grouping``) against the store: the open conversation a message or a create belongs to.

Ingestion and conversation create both come here, so "the same conversation"
means one thing for both. Each search first takes its group's lock, held to
the end of the caller's transaction, so a search and the insert of a new
conversation of that group never interleave with another's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from orchestrion.domain.grouping import BY_PROFILE, GroupQuery, lock_key_of_profile, participants_group
from orchestrion.domain.models import Conversation
from orchestrion.services.context import Context
from orchestrion.services.participants import ParticipantFields
from orchestrion.services.profiles import profile_of_address
from orchestrion.store.store import Tx

CUSTOMER = "CUSTOMER"


async def open_by_addresses(tx: Tx, account_sid: str, configuration_id: str, query: GroupQuery) -> str | None:
    await tx.grouping.lock(query.lock_key(configuration_id))
    return await tx.grouping.open_by_addresses(account_sid, configuration_id, query.sides)


async def open_conversation_by_addresses(
    tx: Tx, account_sid: str, configuration_id: str, query: GroupQuery
) -> Conversation | None:
    """As ``open_by_addresses``, the whole conversation, locked: one statement less where the caller needs it."""
    await tx.grouping.lock(query.lock_key(configuration_id))
    return await tx.grouping.open_conversation_by_addresses(account_sid, configuration_id, query.sides)


async def open_by_profiles(tx: Tx, account_sid: str, configuration_id: str, profile_ids: Sequence[str]) -> str | None:
    if not profile_ids:
        return None
    for profile_id in sorted(set(profile_ids)):
        await tx.grouping.lock(lock_key_of_profile(configuration_id, profile_id))
    return await tx.grouping.open_by_profiles(account_sid, configuration_id, profile_ids)


async def with_profiles(
    ctx: Context, tx: Tx, account_sid: str, participants: Sequence[ParticipantFields]
) -> tuple[ParticipantFields, ...]:
    """GROUP_BY_PROFILE: each CUSTOMER without a profileId gets the profile of its first address, as ingestion does."""
    out = []
    for fields in participants:
        if fields.type == CUSTOMER and fields.profile_id is None and fields.addresses:
            first = fields.addresses[0]
            profile_id = await profile_of_address(ctx, tx, account_sid, first.channel, first.address, create=True)
            fields = dataclasses.replace(fields, profile_id=profile_id)
        out.append(fields)
    return tuple(out)


async def open_conversation_of(
    tx: Tx, account_sid: str, configuration_id: str, grouping_type: str, participants: Sequence[ParticipantFields]
) -> str | None:
    """The open conversation of the configuration the participants already form, if any."""
    if grouping_type == BY_PROFILE:
        profiles = [p.profile_id for p in participants if p.profile_id]
        return await open_by_profiles(tx, account_sid, configuration_id, profiles)
    query = participants_group(
        grouping_type, [[(a.channel, a.address) for a in p.addresses or ()] for p in participants]
    )
    return None if query is None else await open_by_addresses(tx, account_sid, configuration_id, query)
