"""The address search's query plan on SQLite: it starts from the customer's conversations.

A business number is in a conversation with every customer who ever wrote to
it; a search that collects that number's conversations reads more of them with
every customer, for every message.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from orchestrion.store.grouping import _by_addresses
from orchestrion.store.tables import metadata


def _plan(tmp_path: Path, shape: tuple[int, ...], *, whole: bool) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    try:
        metadata.create_all(engine)
        sql = str(_by_addresses(shape, whole=whole).statement.compile(dialect=sqlite.dialect()))
        with engine.connect() as conn:
            return [str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ("x",) * sql.count("?"))]
    finally:
        engine.dispose()


def test_an_inbound_search_reads_the_other_sides_only_by_conversation(tmp_path: Path) -> None:
    for shape in [(1, 1), (3, 3)]:
        for whole in (False, True):
            steps = _plan(tmp_path, shape, whole=whole)
            # The customer's side: its conversations through the address index, the only list built.
            assert [s for s in steps if s.startswith("LIST SUBQUERY")] == ["LIST SUBQUERY 1"], steps
            assert any(
                s.startswith("SEARCH side_0 USING INDEX ix_participant_addresses_channel_address") for s in steps
            )
            # The business number's side: looked up in each of those conversations, never listed.
            assert any(
                s.startswith("SEARCH side_1 USING INDEX sqlite_autoindex_participant_addresses_1 (conversation_id=?")
                for s in steps
            ), steps
            assert "SEARCH conversations USING INDEX ix_conversations_account_sid_id (account_sid=? AND id=?)" in steps
