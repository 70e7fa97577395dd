"""Conversations, their participants and participant addresses."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import Conflict
from orchestrion.domain.models import Address, Conversation, ConversationStatus, Participant
from orchestrion.store.database import SqlConnection
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.prepared import Prepared
from orchestrion.store.sqlfuncs import greatest, insert_into, insert_or_skip
from orchestrion.store.tables import communications, conversations, participant_addresses, participants


def conversation_from_row(row: Any) -> Conversation:
    return Conversation(
        id=row.id,
        account_sid=row.account_sid,
        configuration_id=row.configuration_id,
        configuration_version=row.configuration_version,
        configuration=row.configuration,
        status=ConversationStatus(row.status),
        name=row.name,
        metadata=row.metadata,
        status_callbacks=row.status_callbacks,
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def _participant(row: Any) -> Participant:
    return Participant(
        id=row.id,
        conversation_id=row.conversation_id,
        account_sid=row.account_sid,
        name=row.name,
        type=row.type,
        profile_id=row.profile_id,
        addresses=tuple(
            Address(channel=Channel(a["channel"]), address=a["address"], channel_id=a.get("channelId"))
            for a in row.addresses
        ),
        created_ms=row.created_ms,
        updated_ms=row.updated_ms,
    )


def _addresses_json(addresses: Sequence[Address]) -> list[dict[str, str]]:
    out = []
    for a in addresses:
        item = {"channel": str(a.channel), "address": a.address}
        if a.channel_id is not None:
            item["channelId"] = a.channel_id
        out.append(item)
    return out


_CONVERSATION_QUERY = sa.select(conversations).where(
    conversations.c.account_sid == sa.bindparam("b_account"), conversations.c.id == sa.bindparam("b_id")
)
_CONVERSATION = Prepared(_CONVERSATION_QUERY)
_CONVERSATION_LOCKED = Prepared(_CONVERSATION_QUERY.with_for_update())
_TOUCH = {
    backend: Prepared(
        conversations.update()
        .where(conversations.c.id == sa.bindparam("b_id"))
        .values(
            last_activity_ms=greatest(
                backend, conversations.c.last_activity_ms, sa.bindparam("v_activity", type_=sa.BigInteger())
            )
        )
        .returning(*conversations.c)
    )
    for backend in ("sqlite", "postgresql")
}


_PARTICIPANT = Prepared(
    sa.select(participants).where(
        participants.c.conversation_id == sa.bindparam("b_conversation"), participants.c.id == sa.bindparam("b_id")
    )
)
# The first Action to a new address adds a participant: these run once per new customer of a campaign.
_PARTICIPANT_INSERT = Prepared(participants.insert())
_CLAIM_ADDRESS = {
    backend: Prepared(insert_or_skip(backend, participant_addresses)) for backend in ("sqlite", "postgresql")
}


@functools.cache
def _with_owners(addresses: int) -> Prepared:
    """The conversation, with the owners of ``addresses`` addresses in it: one row per owned address, or
    one row of NULLs after the conversation's columns when none is owned (one statement per count)."""
    return Prepared(
        sa.select(
            conversations,
            participant_addresses.c.channel.label("owned_channel"),
            participant_addresses.c.address.label("owned_address"),
            participant_addresses.c.participant_id.label("owner_id"),
        )
        .select_from(
            conversations.outerjoin(
                participant_addresses,
                sa.and_(
                    participant_addresses.c.conversation_id == conversations.c.id,
                    participant_addresses.c.address.in_([sa.bindparam(f"b_address_{i}") for i in range(addresses)]),
                ),
            )
        )
        .where(conversations.c.account_sid == sa.bindparam("b_account"), conversations.c.id == sa.bindparam("b_id"))
    )


_AT_ADDRESS = (
    participant_addresses.c.conversation_id == sa.bindparam("b_conv"),
    participant_addresses.c.channel == sa.bindparam("b_channel"),
    participant_addresses.c.address == sa.bindparam("b_address"),
)
_ADDRESS_OWNER = sa.select(participant_addresses.c.participant_id).where(*_AT_ADDRESS)
# The owner whole, in one statement (each inbound message looks up its two ends).
_OWNER_AT = Prepared(
    sa.select(participants)
    .join(participant_addresses, participant_addresses.c.participant_id == participants.c.id)
    .where(*_AT_ADDRESS)
)


def _address_params(conversation_id: str, channel: Channel, address: str) -> dict[str, str]:
    return {"b_conv": conversation_id, "b_channel": str(channel), "b_address": address}


class ConversationRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, account_sid: str, conversation_id: str, *, for_update: bool = False) -> Conversation | None:
        query = _CONVERSATION_LOCKED if for_update else _CONVERSATION
        row = (await self._conn.run(query, {"b_account": account_sid, "b_id": conversation_id})).first()
        return None if row is None else conversation_from_row(row)

    async def get_with_owners(
        self, account_sid: str, conversation_id: str, wanted: Sequence[tuple[Channel, str]]
    ) -> tuple[Conversation | None, dict[tuple[Channel, str], str]]:
        """The conversation and the participant owning each of these (channel, address) pairs, in one query."""
        if not wanted:
            return await self.get(account_sid, conversation_id), {}
        addresses = sorted({a for _, a in wanted})
        params = {"b_account": account_sid, "b_id": conversation_id}
        params.update((f"b_address_{i}", address) for i, address in enumerate(addresses))
        rows = (await self._conn.run(_with_owners(len(addresses)), params)).rows
        if not rows:
            return None, {}
        found = {(row.owned_channel, row.owned_address): row.owner_id for row in rows if row.owner_id is not None}
        owned = ((pair, found.get((str(pair[0]), pair[1]))) for pair in wanted)
        return conversation_from_row(rows[0]), {pair: owner for pair, owner in owned if owner is not None}

    async def insert(self, c: Conversation, *, last_activity_ms: int) -> None:
        await self._conn.execute(
            insert_into(conversations),
            dict(
                id=c.id,
                account_sid=c.account_sid,
                configuration_id=c.configuration_id,
                configuration_version=c.configuration_version,
                configuration=c.configuration,
                status=str(c.status),
                name=c.name,
                metadata=c.metadata,
                status_callbacks=c.status_callbacks,
                created_ms=c.created_ms,
                updated_ms=c.updated_ms,
                last_activity_ms=last_activity_ms,
            ),
        )

    async def update(self, c: Conversation) -> None:
        await self._conn.execute(
            conversations.update()
            .where(conversations.c.id == c.id)
            .values(
                status=str(c.status),
                name=c.name,
                metadata=c.metadata,
                status_callbacks=c.status_callbacks,
                updated_ms=c.updated_ms,
            )
        )

    async def touch(self, conversation_id: str, activity_ms: int) -> Conversation | None:
        """Record activity at ``activity_ms`` (never moving it back); the conversation as it now is, if it exists."""
        row = (
            await self._conn.run(_TOUCH[self._conn.dialect.name], {"b_id": conversation_id, "v_activity": activity_ms})
        ).first()
        return None if row is None else conversation_from_row(row)

    async def delete(self, account_sid: str, conversation_id: str) -> bool:
        # Children go by ON DELETE CASCADE on both backends.
        result = await self._conn.execute(
            conversations.delete().where(
                conversations.c.account_sid == account_sid, conversations.c.id == conversation_id
            )
        )
        return bool(result.rowcount)

    async def list(
        self,
        account_sid: str,
        page: PageRequest,
        *,
        statuses: Sequence[str] = (),
        channel_id: str | None = None,
        configuration_id: str | None = None,
        addresses: Sequence[str] = (),
    ) -> Page[Conversation]:
        """``addresses``: conversations with a participant at any of these addresses."""
        query = sa.select(conversations).where(conversations.c.account_sid == account_sid)
        if statuses:
            query = query.where(conversations.c.status.in_(list(statuses)))
        if configuration_id is not None:
            query = query.where(conversations.c.configuration_id == configuration_id)
        if addresses:
            query = query.where(
                sa.exists().where(
                    participant_addresses.c.conversation_id == conversations.c.id,
                    participant_addresses.c.address.in_(list(addresses)),
                )
            )
        if channel_id is not None:
            query = query.where(
                sa.exists().where(
                    communications.c.conversation_id == conversations.c.id,
                    communications.c.account_sid == account_sid,
                    communications.c.channel_id == channel_id,
                )
            )
        return await fetch_page(self._conn, query, conversations.c.id, page, conversation_from_row)


class ParticipantRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def get(self, conversation_id: str, participant_id: str) -> Participant | None:
        row = (await self._conn.run(_PARTICIPANT, {"b_conversation": conversation_id, "b_id": participant_id})).first()
        return None if row is None else _participant(row)

    async def all_for(self, conversation_ids: Sequence[str]) -> dict[str, list[Participant]]:
        out: dict[str, list[Participant]] = {cid: [] for cid in conversation_ids}
        if not conversation_ids:
            return out
        rows = await self._conn.execute(
            sa.select(participants)
            .where(participants.c.conversation_id.in_(list(conversation_ids)))
            .order_by(participants.c.id)
        )
        for row in rows:
            out[row.conversation_id].append(_participant(row))
        return out

    async def find_by_address(self, conversation_id: str, channel: Channel, address: str) -> str | None:
        return (await self._conn.execute(_ADDRESS_OWNER, _address_params(conversation_id, channel, address))).scalar()

    async def owner_at(self, conversation_id: str, channel: Channel, address: str) -> Participant | None:
        """The participant of the conversation that holds (channel, address), if one does."""
        row = (await self._conn.run(_OWNER_AT, _address_params(conversation_id, channel, address))).first()
        return None if row is None else _participant(row)

    async def insert(self, p: Participant) -> None:
        await self._conn.run(
            _PARTICIPANT_INSERT,
            dict(
                id=p.id,
                conversation_id=p.conversation_id,
                account_sid=p.account_sid,
                name=p.name,
                type=p.type,
                profile_id=p.profile_id,
                addresses=_addresses_json(p.addresses),
                created_ms=p.created_ms,
                updated_ms=p.updated_ms,
            ),
        )
        await self._claim_addresses(p)

    async def update(self, p: Participant) -> None:
        await self._conn.execute(
            participants.update()
            .where(participants.c.id == p.id)
            .values(
                name=p.name,
                type=p.type,
                profile_id=p.profile_id,
                addresses=_addresses_json(p.addresses),
                updated_ms=p.updated_ms,
            )
        )
        await self._conn.execute(participant_addresses.delete().where(participant_addresses.c.participant_id == p.id))
        await self._claim_addresses(p)

    async def _claim_addresses(self, p: Participant) -> None:
        claim = _CLAIM_ADDRESS[self._conn.dialect.name]
        for a in p.addresses:
            claimed = await self._conn.run(
                claim,
                dict(conversation_id=p.conversation_id, channel=str(a.channel), address=a.address, participant_id=p.id),
            )
            if not claimed.rowcount:
                owner = await self.find_by_address(p.conversation_id, a.channel, a.address)
                holder = "is already taken" if owner is None else f"already belongs to participant {owner}"
                raise Conflict(f"Address {a.address} on channel {a.channel} {holder}", owner)

    async def delete(self, conversation_id: str, participant_id: str) -> bool:
        result = await self._conn.execute(
            participants.delete().where(
                participants.c.conversation_id == conversation_id, participants.c.id == participant_id
            )
        )
        return bool(result.rowcount)

    async def list(self, conversation_id: str, page: PageRequest) -> Page[Participant]:
        query = sa.select(participants).where(participants.c.conversation_id == conversation_id)
        return await fetch_page(self._conn, query, participants.c.id, page, _participant)
