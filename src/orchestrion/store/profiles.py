"""The profile store: profiles, the identifiers that find them, their traits.

An identifier (account, idType, value) is a primary key, so it belongs to one
profile at most; claiming one that is taken answers with its owner instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from orchestrion.domain.channels import Channel
from orchestrion.domain.identity import Identifier
from orchestrion.domain.memory import Profile, Trait
from orchestrion.store.database import SqlConnection
from orchestrion.store.grouping import at_any
from orchestrion.store.paging import Page, PageRequest, fetch_page
from orchestrion.store.sqlfuncs import insert_into
from orchestrion.store.tables import (
    participant_addresses,
    participants,
    profile_identifiers,
    profile_traits,
    profiles,
)


def _profile(row: Any) -> Profile:
    return Profile(id=row.id, account_sid=row.account_sid, created_ms=row.created_ms, updated_ms=row.updated_ms)


class ProfileRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def linked_by_participant(self, account_sid: str, forms: Sequence[tuple[Channel, str]]) -> str | None:
        """The profile of the newest participant of the account holding one of ``forms`` with a profileId."""
        query = (
            sa.select(participants.c.profile_id)
            .join(participant_addresses, participant_addresses.c.participant_id == participants.c.id)
            .where(participants.c.account_sid == account_sid, participants.c.profile_id.is_not(None), at_any(forms))
            .order_by(participants.c.id.desc())
            .limit(1)
        )
        return (await self._conn.execute(query)).scalar()

    async def owner(self, account_sid: str, identifier: Identifier) -> str | None:
        return (
            await self._conn.execute(
                sa.select(profile_identifiers.c.profile_id).where(
                    profile_identifiers.c.account_sid == account_sid,
                    profile_identifiers.c.id_type == identifier.id_type,
                    profile_identifiers.c.value == identifier.value,
                )
            )
        ).scalar()

    async def insert(self, profile: Profile) -> None:
        await self._conn.execute(
            insert_into(profiles),
            dict(
                id=profile.id,
                account_sid=profile.account_sid,
                created_ms=profile.created_ms,
                updated_ms=profile.updated_ms,
            ),
        )

    async def claim(self, account_sid: str, identifier: Identifier, profile_id: str, now_ms: int) -> str:
        """Give ``identifier`` to ``profile_id`` unless a profile has it already; the profile that has it."""
        try:
            async with self._conn.begin_nested():
                await self._conn.execute(
                    insert_into(profile_identifiers),
                    dict(
                        account_sid=account_sid,
                        id_type=identifier.id_type,
                        value=identifier.value,
                        profile_id=profile_id,
                        created_ms=now_ms,
                    ),
                )
        except IntegrityError:
            existing = await self.owner(account_sid, identifier)
            if existing is None:
                raise
            return existing
        return profile_id

    async def get(self, account_sid: str, profile_id: str) -> Profile | None:
        row = (
            await self._conn.execute(
                sa.select(profiles).where(profiles.c.account_sid == account_sid, profiles.c.id == profile_id)
            )
        ).first()
        return None if row is None else _profile(row)

    async def touch(self, profile_id: str, now_ms: int) -> None:
        await self._conn.execute(profiles.update().where(profiles.c.id == profile_id).values(updated_ms=now_ms))

    async def delete(self, account_sid: str, profile_id: str) -> bool:
        # Identifiers, traits and memories go with it (ON DELETE CASCADE).
        result = await self._conn.execute(
            profiles.delete().where(profiles.c.account_sid == account_sid, profiles.c.id == profile_id)
        )
        return bool(result.rowcount)

    async def identifiers(self, profile_id: str) -> list[tuple[Identifier, int]]:
        """The profile's identifiers and when each was added, oldest first."""
        rows = await self._conn.execute(
            sa.select(profile_identifiers)
            .where(profile_identifiers.c.profile_id == profile_id)
            .order_by(profile_identifiers.c.created_ms, profile_identifiers.c.id_type, profile_identifiers.c.value)
        )
        return [(Identifier(r.id_type, r.value), r.created_ms) for r in rows]

    async def remove_identifiers(self, profile_id: str, id_type: str, values: Sequence[str]) -> int:
        result = await self._conn.execute(
            profile_identifiers.delete().where(
                profile_identifiers.c.profile_id == profile_id,
                profile_identifiers.c.id_type == id_type,
                profile_identifiers.c.value.in_(list(values)),
            )
        )
        return int(result.rowcount or 0)

    async def traits(self, profile_id: str) -> list[Trait]:
        rows = await self._conn.execute(
            sa.select(profile_traits)
            .where(profile_traits.c.profile_id == profile_id)
            .order_by(profile_traits.c.trait_group, profile_traits.c.name)
        )
        return [Trait(r.trait_group, r.name, r.value["v"], r.updated_ms) for r in rows]

    async def set_trait(self, profile_id: str, trait: Trait) -> None:
        """Set one trait (insert or replace); a None value removes it."""
        where = sa.and_(
            profile_traits.c.profile_id == profile_id,
            profile_traits.c.trait_group == trait.group,
            profile_traits.c.name == trait.name,
        )
        await self._conn.execute(profile_traits.delete().where(where))
        if trait.value is not None:
            await self._conn.execute(
                insert_into(profile_traits),
                dict(
                    profile_id=profile_id,
                    trait_group=trait.group,
                    name=trait.name,
                    # Wrapped: SQLite gives a JSON column numeric affinity, so a bare number would come back unparsed.
                    value={"v": trait.value},
                    updated_ms=trait.updated_ms,
                ),
            )

    async def list(self, account_sid: str, page: PageRequest) -> Page[Profile]:
        query = sa.select(profiles).where(profiles.c.account_sid == account_sid)
        return await fetch_page(self._conn, query, profiles.c.id, page, _profile)
