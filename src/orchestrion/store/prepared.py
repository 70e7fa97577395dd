"""The hot statements, compiled once and run straight on SQLite's driver.

SQLAlchemy's work around each execution (cache key, execution context,
parameter and result processing) costs about 40 us on SQLite, where the
statement itself takes a few: most of a POST's database time (bench/README.md).
On PostgreSQL the same work, plus the greenlet bridge of SQLAlchemy's asyncio
layer, costs over 100 us a statement. A ``Prepared`` statement is compiled
once per dialect and set of parameter names, with its bind and result
processors looked up once; ``SqlConnection.run`` then binds the values, runs
the SQL on the driver's connection (sqlite3's cursor, or asyncpg's prepared
statement inside SQLAlchemy's transaction: ``store.pg``) and decodes
the rows itself, so both backends answer the same ``Rows``.

Errors from the driver are raised as SQLAlchemy raises them (``IntegrityError``,
``OperationalError``...), so the store's error translation sees no difference.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect

Processor = Callable[[Any], Any] | None
_REQUIRED = object()  # a bind the caller must give a value for


class Record(dict[str, Any]):
    """A row: a mapping that also reads like SQLAlchemy's rows (``row.id``, ``row._mapping``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _mapping(self) -> Record:
        return self


@dataclass(frozen=True, slots=True)
class Rows:
    """What a statement returned and how many rows it changed."""

    rows: list[Record]
    rowcount: int

    def first(self) -> Record | None:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    binds: tuple[Processor, ...]
    defaults: tuple[Any, ...]  # the value of a bind the statement fixes itself (a literal in a WHERE)
    results: dict[str, Processor]
    plain: bool  # every bind is the caller's and needs no processing: the common case, bound faster


class Prepared:
    """One statement of the hot path (see the module)."""

    def __init__(self, statement: sa.Select[Any] | sa.Insert | sa.Update | sa.Delete) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], _Compiled] = {}

    def compiled(self, dialect: Dialect, keys: frozenset[str]) -> _Compiled:
        found = self._compiled.get((dialect.name, keys))
        if found is None:
            found = self._compile(dialect, keys)
            self._compiled[(dialect.name, keys)] = found
        return found

    def _compile(self, dialect: Dialect, keys: frozenset[str]) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=sorted(keys))
        names = tuple(compiled.positiontup or ())
        binds = tuple(compiled.binds[name].type.bind_processor(dialect) for name in names)
        defaults = tuple(_default(compiled.binds[name]) for name in names)
        columns: Sequence[Any] = getattr(self.statement, "exported_columns", ())
        results = {column.name: column.type.result_processor(dialect, None) for column in columns}
        plain = all(process is None for process in binds) and all(default is _REQUIRED for default in defaults)
        processed = {k: p for k, p in results.items() if p is not None}
        return _Compiled(str(compiled), names, binds, defaults, processed, plain)


def _default(bind: sa.BindParameter[Any]) -> Any:
    return bind.effective_value if bind.value is not None or bind.callable is not None else _REQUIRED


def _value(parameters: Mapping[str, Any], name: str, default: Any) -> Any:
    value = parameters.get(name, default)
    if value is _REQUIRED:
        raise _missing(name)
    return value


def _missing(name: str) -> exc.InvalidRequestError:
    return exc.InvalidRequestError(f"A value is required for bind parameter {name!r}")


def bind(compiled: _Compiled, parameters: Mapping[str, Any]) -> list[Any]:
    """The driver's positional arguments for ``parameters``."""
    if compiled.plain:
        try:
            return [parameters[name] for name in compiled.names]
        except KeyError as missing:
            raise _missing(missing.args[0]) from None
    return [
        _value(parameters, name, default) if process is None else process(_value(parameters, name, default))
        for name, default, process in zip(compiled.names, compiled.defaults, compiled.binds, strict=True)
    ]


def decode(compiled: _Compiled, rows: list[Record]) -> list[Record]:
    """Apply the columns' result processors (JSON decoding on SQLite) to ``rows``, in place."""
    for name, process in compiled.results.items():
        for row in rows:
            if name in row:
                row[name] = process(row[name])  # type: ignore[misc]
    return rows


def run_on_sqlite(conn: Connection, query: Prepared, parameters: Mapping[str, Any]) -> Rows:
    """Run ``query`` on the sqlite3 connection under ``conn``, inside whatever transaction it is in."""
    compiled = query.compiled(conn.dialect, frozenset(parameters))
    args = bind(compiled, parameters)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        try:
            cursor.execute(compiled.sql, args)
            fetched = cursor.fetchall() if cursor.description is not None else []
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(compiled.sql, args, error, sqlite3.Error) from error
        columns = [d[0] for d in cursor.description] if cursor.description is not None else []
        rowcount = cursor.rowcount
    finally:
        cursor.close()
    return Rows(decode(compiled, [Record(zip(columns, row, strict=True)) for row in fetched]), rowcount)
