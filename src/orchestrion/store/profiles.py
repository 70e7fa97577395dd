"""The built-in profile store of GROUP_BY_PROFILE: which profile a customer's address belongs to."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.domain.channels import Channel
from orchestrion.store.database import SqlConnection
from orchestrion.store.tables import conversations, participant_addresses, participants, profile_addresses


class ProfileRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def linked_by_participant(self, account_sid: str, forms: Sequence[tuple[Channel, str]]) -> str | None:
        """The profile of the newest participant of the account holding one of ``forms`` with a profileId."""
        holds = sa.or_(
            *(
                sa.and_(participant_addresses.c.channel == str(c), participant_addresses.c.address == a)
                for c, a in forms
            )
        )
        query = (
            sa.select(participants.c.profile_id)
            .join(participant_addresses, participant_addresses.c.participant_id == participants.c.id)
            .where(participants.c.account_sid == account_sid, participants.c.profile_id.is_not(None), holds)
            .order_by(participants.c.id.desc())
            .limit(1)
        )
        return (await self._conn.execute(query)).scalar()

    async def by_address(self, account_sid: str, key: str) -> str | None:
        return (
            await self._conn.execute(
                sa.select(profile_addresses.c.profile_id).where(
                    profile_addresses.c.account_sid == account_sid, profile_addresses.c.address == key
                )
            )
        ).scalar()

    async def link(self, account_sid: str, key: str, profile_id: str, now_ms: int) -> str:
        """Link ``key`` to ``profile_id`` unless it is linked already; the profile it is linked to."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    profile_addresses.insert().values(
                        account_sid=account_sid, address=key, profile_id=profile_id, created_ms=now_ms
                    )
                )
        except IntegrityError:
            existing = await self.by_address(account_sid, key)
            if existing is None:
                raise
            return existing
        return profile_id

    async def open_conversation(self, account_sid: str, configuration_id: str, profile_id: str) -> str | None:
        """The newest ACTIVE or INACTIVE conversation of the configuration with a participant of this profile."""
        with_profile = sa.select(participants.c.conversation_id).where(
            participants.c.account_sid == account_sid, participants.c.profile_id == profile_id
        )
        query = (
            sa.select(conversations.c.id)
            .where(
                conversations.c.account_sid == account_sid,
                conversations.c.configuration_id == configuration_id,
                conversations.c.status != "CLOSED",
                conversations.c.id.in_(with_profile),
            )
            .order_by(conversations.c.id.desc())
            .limit(1)
        )
        return (await self._conn.execute(query)).scalar()
