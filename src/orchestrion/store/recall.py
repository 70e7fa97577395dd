"""A profile's communications, for Recall: those of the conversations the profile takes part in.

A profile takes part in a conversation when one of its participants carries
the profile's id, or holds an address one of the profile's identifiers gives
(``domain.identity.addresses_of``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from orchestrion.domain.grouping import Form
from orchestrion.domain.models import Communication
from orchestrion.store.communications import _communication
from orchestrion.store.database import SqlConnection
from orchestrion.store.grouping import at_any
from orchestrion.store.tables import communications, participant_addresses, participants


class RecallRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def communications(
        self,
        account_sid: str,
        profile_id: str,
        forms: Sequence[Form],
        *,
        conversation_id: str | None,
        occurred_from_ms: int | None,
        occurred_until_ms: int | None,
        limit: int,
    ) -> list[Communication]:
        """The ``limit`` newest communications of the profile's conversations (or of one of them)."""
        of_profile = sa.select(participants.c.conversation_id).where(
            participants.c.account_sid == account_sid, participants.c.profile_id == profile_id
        )
        if forms:
            at_addresses = (
                sa.select(participant_addresses.c.conversation_id)
                .join(participants, participants.c.id == participant_addresses.c.participant_id)
                .where(
                    participants.c.account_sid == account_sid,
                    at_any(forms),
                )
            )
            of_profile = sa.union(of_profile, at_addresses)  # type: ignore[assignment]
        query = sa.select(communications).where(
            communications.c.account_sid == account_sid, communications.c.conversation_id.in_(of_profile)
        )
        if conversation_id is not None:
            query = query.where(communications.c.conversation_id == conversation_id)
        if occurred_from_ms is not None:
            query = query.where(communications.c.occurred_ms >= occurred_from_ms)
        if occurred_until_ms is not None:
            query = query.where(communications.c.occurred_ms < occurred_until_ms)
        rows = await self._conn.execute(query.order_by(communications.c.id.desc()).limit(limit))
        return [_communication(r) for r in rows]
