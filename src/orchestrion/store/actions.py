"""Actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from orchestrion.domain.models import Action, ActionStatus, ActionView
from orchestrion.store.database import SqlConnection
from orchestrion.store.prepared import Prepared
from orchestrion.store.tables import actions

_COLUMNS = (
    actions.c.id,
    actions.c.conversation_id,
    actions.c.account_sid,
    actions.c.type,
    actions.c.status,
    actions.c.related,
    actions.c.request,
    actions.c.failure_reason,
    actions.c.created_ms,
    actions.c.updated_ms,
    actions.c.completed_ms,
)


# Statements are built once (named SQL): constructing one per call costs
# several times more than running it (bench/README.md).
# The status read leaves out the resolved request: the largest column, and JSON to decode.
_VIEW_COLUMNS = tuple(c for c in _COLUMNS if c is not actions.c.request and c is not actions.c.account_sid)
_VIEW_FIELDS = tuple(c.name for c in _VIEW_COLUMNS if c.name != "status")  # ActionView's, as they are stored
_VIEW = Prepared(
    sa.select(*_VIEW_COLUMNS).where(
        actions.c.id == sa.bindparam("id"),
        actions.c.conversation_id == sa.bindparam("conversation_id"),
        actions.c.account_sid == sa.bindparam("account_sid"),
    )
)

_BY_ID_QUERY = sa.select(*_COLUMNS).where(actions.c.id == sa.bindparam("b_id"))
_BY_ID = Prepared(_BY_ID_QUERY)
_BY_ID_LOCKED = Prepared(_BY_ID_QUERY.with_for_update())
_BY_SID = sa.select(*_COLUMNS).where(actions.c.message_sid == sa.bindparam("b_sid"))
_BY_SID_LOCKED = _BY_SID.with_for_update()
_BY_SID_IN_ACCOUNT = _BY_SID.where(actions.c.account_sid == sa.bindparam("b_account"))
_BY_SID_IN_ACCOUNT_LOCKED = _BY_SID_IN_ACCOUNT.with_for_update()
_INSERT = Prepared(actions.insert())
_UPDATE_QUERY = (
    actions.update()
    .where(actions.c.id == sa.bindparam("b_id"), actions.c.status == str(ActionStatus.PENDING))
    .values(
        status=sa.bindparam("v_status"),
        related=sa.bindparam("v_related", type_=actions.c.related.type),
        failure_reason=sa.bindparam("v_failure_reason"),
        message_sid=sa.bindparam("v_message_sid"),
        updated_ms=sa.bindparam("v_updated_ms"),
        completed_ms=sa.bindparam("v_completed_ms"),
    )
)
_UPDATE = Prepared(_UPDATE_QUERY)
_UPDATE_UNCHANGED = Prepared(_UPDATE_QUERY.where(actions.c.updated_ms == sa.bindparam("b_updated_ms")))


def _action(row: Any) -> Action:
    return _action_from(row._mapping)


def _action_from(row: Mapping[str, Any]) -> Action:
    return Action(
        id=row["id"],
        conversation_id=row["conversation_id"],
        account_sid=row["account_sid"],
        type=row["type"],
        status=ActionStatus(row["status"]),
        related=row["related"],
        request=row["request"],
        failure_reason=row["failure_reason"],
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
        completed_ms=row["completed_ms"],
    )


def _values(a: Action) -> dict[str, Any]:
    return {
        "b_id": a.id,
        "v_status": str(a.status),
        "v_related": a.related,
        "v_failure_reason": a.failure_reason,
        "v_message_sid": a.related.get("messageSid"),
        "v_updated_ms": a.updated_ms,
        "v_completed_ms": a.completed_ms,
    }


class ActionRepo:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    async def view(self, account_sid: str, conversation_id: str, action_id: str) -> ActionView | None:
        """What the status read shows of the Action (no resolved request), or None."""
        key = {"id": action_id, "conversation_id": conversation_id, "account_sid": account_sid}
        row = (await self._conn.run(_VIEW, key)).first()
        if row is None:
            return None
        return ActionView(status=ActionStatus(row["status"]), **{name: row[name] for name in _VIEW_FIELDS})

    async def get_by_id(self, action_id: str, *, for_update: bool = False) -> Action | None:
        query = _BY_ID_LOCKED if for_update else _BY_ID
        row = (await self._conn.run(query, {"b_id": action_id})).first()
        return None if row is None else _action_from(row)

    async def get_by_message_sid(
        self, message_sid: str, *, account_sid: str | None = None, for_update: bool = False
    ) -> Action | None:
        """The Action that sent ``message_sid``; with ``account_sid``, only if it is that account's."""
        if account_sid is None:
            query, params = (_BY_SID_LOCKED if for_update else _BY_SID), {"b_sid": message_sid}
        else:
            query = _BY_SID_IN_ACCOUNT_LOCKED if for_update else _BY_SID_IN_ACCOUNT
            params = {"b_sid": message_sid, "b_account": account_sid}
        row = (await self._conn.execute(query, params)).first()
        return None if row is None else _action(row)

    async def recent(self, conversation_id: str, limit: int) -> tuple[list[Action], bool]:
        """The conversation's newest ``limit`` actions, oldest first, and whether older ones exist."""
        rows = list(
            await self._conn.execute(
                sa.select(*_COLUMNS)
                .where(actions.c.conversation_id == conversation_id)
                .order_by(actions.c.id.desc())
                .limit(limit + 1)
            )
        )
        return [_action(r) for r in reversed(rows[:limit])], len(rows) > limit

    async def insert(self, a: Action) -> None:
        await self._conn.run(
            _INSERT,
            {
                "id": a.id,
                "conversation_id": a.conversation_id,
                "account_sid": a.account_sid,
                "type": a.type,
                "status": str(a.status),
                "related": a.related,
                "request": a.request,
                "failure_reason": a.failure_reason,
                "message_sid": a.related.get("messageSid"),
                "created_ms": a.created_ms,
                "updated_ms": a.updated_ms,
                "completed_ms": a.completed_ms,
            },
        )

    async def update(self, a: Action) -> bool:
        """Write ``a`` unless the stored action is already terminal (terminal is final)."""
        return bool((await self._conn.run(_UPDATE, _values(a))).rowcount)

    async def update_unchanged(self, before: Action, after: Action) -> bool:
        """Write ``after`` only if the stored action is still ``before`` (compare-and-set, no lock taken before)."""
        values = _values(after)
        values["b_updated_ms"] = before.updated_ms
        return bool((await self._conn.run(_UPDATE_UNCHANGED, values)).rowcount)
