"""SQL functions whose names differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def greatest(backend: str, *values: Any) -> sa.ColumnElement[Any]:
    """The largest argument: ``max(a, b)`` in SQLite, ``greatest(a, b)`` in PostgreSQL."""
    if backend == "sqlite":
        return sa.func.max(*values)
    return sa.func.greatest(*values)
