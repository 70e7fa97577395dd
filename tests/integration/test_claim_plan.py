"""The claim's query plan on SQLite: each class of jobs is found through the kind index, not a walk of every due job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from orchestrion.services.jobs import JOB_CLASSES
from orchestrion.store.jobs import _STATEMENTS
from orchestrion.store.tables import metadata


def test_a_claim_for_several_classes_searches_each_by_kind(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    try:
        metadata.create_all(engine)
        params: dict[str, object] = {"now": 1, "wall": 1, "lease_until": 2, "worker": "w"}
        for i, kinds in enumerate(JOB_CLASSES.values()):
            params[f"kinds_{i}"], params[f"limit_{i}"] = sorted(kinds), 1
        with engine.connect() as conn:
            sa.event.listen(engine, "before_cursor_execute", capture)
            conn.execute(_STATEMENTS["sqlite"].claim_pools(len(JOB_CLASSES)), params)
            sa.event.remove(engine, "before_cursor_execute", capture)
            [(statement, bound)] = sent
            steps = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, bound)]
            conn.rollback()
    finally:
        engine.dispose()
    searches = [step for step in steps if step.startswith("SEARCH jobs USING")]
    assert searches.count("SEARCH jobs USING INDEX ix_jobs_kind_run_at_ms_id (kind=? AND run_at_ms<?)") == len(
        JOB_CLASSES
    ), steps
