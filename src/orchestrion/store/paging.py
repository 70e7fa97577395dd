"""Keyset pagination over time-ordered ids: page 1000 costs what page 1 costs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    """A page of ``query`` in id order (largest first when ``newest_first``); after/before follow that order."""
    descending = request.newest_first
    onward, backward = (id_column.desc(), id_column) if descending else (id_column, id_column.desc())

    def beyond(boundary: str) -> sa.ColumnElement[bool]:
        return id_column < boundary if descending else id_column > boundary

    def short_of(boundary: str) -> sa.ColumnElement[bool]:
        return id_column > boundary if descending else id_column < boundary

    if request.before is not None:
        rows = list(
            await conn.execute(query.where(short_of(request.before)).order_by(backward).limit(request.limit + 1))
        )
        more_before = len(rows) > request.limit
        rows = list(reversed(rows[: request.limit]))
        return Page([to_item(r) for r in rows], more_after=True, more_before=more_before)
    if request.after is not None:
        query = query.where(beyond(request.after))
    rows = list(await conn.execute(query.order_by(onward).limit(request.limit + 1)))
    more_after = len(rows) > request.limit
    return Page(
        [to_item(r) for r in rows[: request.limit]], more_after=more_after, more_before=request.after is not None
    )


def slice_page(items: Sequence[T], key: Callable[[T], str], request: PageRequest) -> Page[T]:
    """A page of ``items`` sorted by ``key`` (largest first when ``newest_first``), for lists kept whole in memory."""
    descending = request.newest_first

    def beyond(k: str, boundary: str) -> bool:
        return k < boundary if descending else k > boundary

    ordered = sorted(items, key=key, reverse=descending)
    if request.before is not None:
        before = request.before
        earlier = [i for i in ordered if beyond(before, key(i))]
        return Page(earlier[-request.limit :], more_after=True, more_before=len(earlier) > request.limit)
    after = request.after
    later = [i for i in ordered if after is None or beyond(key(i), after)]
    return Page(later[: request.limit], more_after=len(later) > request.limit, more_before=after is not None)
