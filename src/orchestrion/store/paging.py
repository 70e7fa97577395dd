"""Keyset pagination over time-ordered ids: page 1000 costs what page 1 costs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from orchestrion.store.database import SqlConnection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: str | None = None  # items with a larger id, ascending
    before: str | None = None  # items with a smaller id, still returned ascending


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    more_after: bool
    more_before: bool


async def fetch_page(
    conn: SqlConnection,
    query: sa.Select[Any],
    id_column: sa.ColumnElement[str],
    request: PageRequest,
    to_item: Callable[[Any], T],
) -> Page[T]:
    if request.before is not None:
        rows = list(
            await conn.execute(
                query.where(id_column < request.before).order_by(id_column.desc()).limit(request.limit + 1)
            )
        )
        more_before = len(rows) > request.limit
        rows = list(reversed(rows[: request.limit]))
        return Page([to_item(r) for r in rows], more_after=True, more_before=more_before)
    if request.after is not None:
        query = query.where(id_column > request.after)
    rows = list(await conn.execute(query.order_by(id_column).limit(request.limit + 1)))
    more_after = len(rows) > request.limit
    return Page(
        [to_item(r) for r in rows[: request.limit]], more_after=more_after, more_before=request.after is not None
    )
