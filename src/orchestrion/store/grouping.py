"""Queries of grouping (``domain.grouping``): the open conversation of a group, and the lock that serializes it.

The search and the insert of a new conversation must not interleave for one
group, or two messages (or a message and a create) arriving together would
start two conversations. PostgreSQL: a transaction-scoped advisory lock on
the group's key; SQLite has one writer, which serializes them already.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from orchestrion.domain.grouping import Form
from orchestrion.domain.models import Conversation
from orchestrion.store.conversations import conversation_from_row
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.tables import conversations, participant_addresses, participants


def at_any(forms: Sequence[Form]) -> sa.ColumnElement[bool]:
    """A participant address row is one of ``forms``."""
    return sa.or_(
        *(sa.and_(participant_addresses.c.channel == str(c), participant_addresses.c.address == a) for c, a in forms)
    )


# The newest open conversation of a configuration; each search below narrows it down.
_OPEN = (
    sa.select(conversations.c.id)
    .where(
        conversations.c.account_sid == sa.bindparam("b_account"),
        conversations.c.configuration_id == sa.bindparam("b_configuration"),
        conversations.c.status != "CLOSED",
    )
    .order_by(conversations.c.id.desc())
    .limit(1)
)


_LOCK = Prepared(sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("b_key", type_=sa.BigInteger))))


@functools.lru_cache(maxsize=64)
def _by_addresses(shape: tuple[int, ...], whole: bool = False) -> Prepared:
    """``open_by_addresses`` for sides of these sizes (an inbound message: two sides of one form each).

    The search starts from the conversations holding the first side (the customer, for a message)
    and checks each other side by the address table's primary key. Collecting every side's
    conversations first, as ``IN (subquery)`` does on SQLite, read all the conversations of the
    business number for every message: more of them with every customer (bench/README.md, "sixth pass").

    ``whole``: the conversation's row, locked (``open_conversation_by_addresses``), instead of its id.
    """
    first = participant_addresses.alias("side_0")
    query = _OPEN.with_only_columns(*conversations.c) if whole else _OPEN
    query = query.where(conversations.c.id.in_(sa.select(first.c.conversation_id).where(_held(first, 0, shape[0]))))
    for s, forms in enumerate(shape[1:], start=1):
        other = participant_addresses.alias(f"side_{s}")
        query = query.where(sa.exists().where(other.c.conversation_id == conversations.c.id, _held(other, s, forms)))
    return Prepared(query.with_for_update() if whole else query)


def _held(addresses: sa.FromClause, side: int, forms: int) -> sa.ColumnElement[bool]:
    """A row of ``addresses`` is one of the side's forms (bound as ``b_channel_<side>_<form>``...)."""
    return sa.or_(
        *(
            sa.and_(
                addresses.c.channel == sa.bindparam(f"b_channel_{side}_{f}"),
                addresses.c.address == sa.bindparam(f"b_address_{side}_{f}"),
            )
            for f in range(forms)
        )
    )


def _shape(sides: Sequence[Sequence[Form]]) -> tuple[int, ...]:
    return tuple(len(side) for side in sides)


def _params(account_sid: str, configuration_id: str, sides: Sequence[Sequence[Form]]) -> dict[str, str]:
    params = {"b_account": account_sid, "b_configuration": configuration_id}
    for s, side in enumerate(sides):
        for f, (channel, address) in enumerate(side):
            params[f"b_channel_{s}_{f}"] = str(channel)
            params[f"b_address_{s}_{f}"] = address
    return params


class GroupingRepo:
    def __init__(self, conn: SqlConnection, backend: str) -> None:
        self._conn = conn
        self._backend = backend

    async def lock(self, key: str) -> None:
        """Serialize the transactions that take this key, until they end."""
        if self._backend != "postgresql":
            return
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        await self._conn.run(_LOCK, {"b_key": number})

    async def open_by_addresses(
        self, account_sid: str, configuration_id: str, sides: Sequence[Sequence[Form]]
    ) -> str | None:
        """The newest open conversation of the configuration holding one form of every side."""
        row = (
            await self._conn.run(_by_addresses(_shape(sides)), _params(account_sid, configuration_id, sides))
        ).first()
        return None if row is None else str(row["id"])

    async def open_conversation_by_addresses(
        self, account_sid: str, configuration_id: str, sides: Sequence[Sequence[Form]]
    ) -> Conversation | None:
        """As ``open_by_addresses``, the whole conversation, locked to the end of the transaction (PostgreSQL).

        Locking in the search itself re-checks it against a concurrent change: a conversation
        closed meanwhile is not returned (a new one is started, as for a message after the close).
        """
        row = (
            await self._conn.run(
                _by_addresses(_shape(sides), whole=True), _params(account_sid, configuration_id, sides)
            )
        ).first()
        return None if row is None else conversation_from_row(row)

    async def open_by_profiles(self, account_sid: str, configuration_id: str, profile_ids: Sequence[str]) -> str | None:
        """The newest open conversation of the configuration with a participant of one of the profiles."""
        with_profile = sa.select(participants.c.conversation_id).where(
            participants.c.account_sid == account_sid, participants.c.profile_id.in_(list(profile_ids))
        )
        query = _OPEN.where(conversations.c.id.in_(with_profile))
        params = {"b_account": account_sid, "b_configuration": configuration_id}
        return (await self._conn.execute(query, params)).scalar()
