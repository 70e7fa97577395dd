"""Create->COMPLETED latency from the times the server wrote, not from when a poll first saw it.

A probe that polls every few milliseconds measures its poll interval as much
as the server (and, with several probes, loads the server with its polls).
The server stamps ``completed_ms`` on the Action when its send commits, on
the same wall clock as the load generator (one machine, loopback), so
``completed_ms`` minus the time the probe sent its POST is the latency to
1 ms, whatever the poll interval.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from orchestrion_bench.load import percentile


async def completed_at(database_url: str, action_ids: Sequence[str]) -> dict[str, int]:
    """``completed_ms`` of each Action that has one, read straight from the target's database."""
    if not action_ids:
        return {}
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            marks = ",".join("?" * len(action_ids))
            rows = conn.execute(
                f"SELECT id, completed_ms FROM actions WHERE id IN ({marks}) AND completed_ms IS NOT NULL",
                list(action_ids),
            ).fetchall()
        return {str(i): int(ms) for i, ms in rows}
    import asyncpg  # only the postgres targets need it

    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT id, completed_ms FROM actions WHERE id = ANY($1::text[]) AND completed_ms IS NOT NULL",
            list(action_ids),
        )
    finally:
        await conn.close()
    return {row["id"]: int(row["completed_ms"]) for row in rows}


def stamped_latencies(sent_ms: Mapping[str, float], completed: Mapping[str, int]) -> dict[str, float | None]:
    """p50/p99 of completed_ms minus the time each POST was sent (wall clock, ms)."""
    values = sorted(completed[i] - t0 for i, t0 in sent_ms.items() if i in completed)
    return {
        "stamped_p50_ms": percentile(values, 50),
        "stamped_p99_ms": percentile(values, 99),
        "stamped_count": len(values),
    }
