"""SQL helpers shared by the repositories: dialect differences, prebuilt statements."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from orchestrion.store.prepared import Prepared


def greatest(backend: str, *values: Any) -> sa.ColumnElement[Any]:
    """The largest argument: ``max(a, b)`` in SQLite, ``greatest(a, b)`` in PostgreSQL."""
    if backend == "sqlite":
        return sa.func.max(*values)
    return sa.func.greatest(*values)


@functools.cache
def insert_into(table: sa.Table) -> sa.Insert:
    """One INSERT statement per table, built once; values go in as parameters.

    Building a statement costs several times more than running it, so hot
    paths reuse statements (named SQL) instead of calling ``.values()``.
    """
    return table.insert()


@functools.cache
def insert_or_skip(backend: str, table: sa.Table) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``table``, built once per backend.

    A row that would break a unique constraint is skipped (rowcount 0)
    instead of raising: one statement where a SAVEPOINT, the INSERT and a
    RELEASE (three round trips) used to guard against the race. Other
    constraints (foreign keys, NOT NULL) still raise.
    """
    if backend == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    return postgresql.insert(table).on_conflict_do_nothing()


@functools.cache
def prepared_insert_or_skip(backend: str, table: sa.Table) -> Prepared:
    """``insert_or_skip`` for a hot path (``store.prepared``)."""
    return Prepared(insert_or_skip(backend, table))
