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
    after: str | None = None  # items after this id in the page order
    before: str | None = None  # items before this id, still returned in the page order
    newest_first: bool = False  # page order: descending ids (the console's lists) instead of ascending


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
    # The page order and its reverse (read backwards from a "before" boundary, then flipped).
    forward, backward = id_column.asc(), id_column.desc()
    if request.newest_first:
        forward, backward = backward, forward
    if request.before is not None:
        before = id_column > request.before if request.newest_first else id_column < request.before
        rows = list(await conn.execute(query.where(before).order_by(backward).limit(request.limit + 1)))
        more_before = len(rows) > request.limit
        rows = list(reversed(rows[: request.limit]))
        return Page([to_item(r) for r in rows], more_after=True, more_before=more_before)
    if request.after is not None:
        query = query.where(id_column < request.after if request.newest_first else id_column > request.after)
    rows = list(await conn.execute(query.order_by(forward).limit(request.limit + 1)))
    more_after = len(rows) > request.limit
    return Page(
        [to_item(r) for r in rows[: request.limit]], more_after=more_after, more_before=request.after is not None
    )
