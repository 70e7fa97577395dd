"""SQL helpers shared by the repositories: dialect differences, prebuilt statements."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa


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
