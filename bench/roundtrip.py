"""What one PostgreSQL round trip costs the client process, raw and through Orchestrion's store.

    .venv/bin/python bench/roundtrip.py [--url postgresql://root@127.0.0.1:5432/test] [--n 2000]

One connection, one request at a time (no concurrency to amortise a wakeup over several
answers): the CPU time of this process and the wall time per operation. Read it next to the
statement counts of ``tests/services/test_statement_counts.py``: on PostgreSQL an Action's CPU in
the Orchestrion process is close to (round trips per Action) x (CPU per round trip), whatever
runs the statement (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import sqlalchemy as sa

from orchestrion.store.database import Database
from orchestrion.store.prepared import Prepared

_ONE = Prepared(sa.select(sa.bindparam("b_n", type_=sa.Integer).label("n")))


async def _measure(label: str, n: int, operation: Callable[[], Awaitable[object]]) -> None:
    await operation()  # warm: connection, prepared statement
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        await operation()
    cpu_us = (time.process_time() - cpu) / n * 1e6
    wall_us = (time.perf_counter() - wall) / n * 1e6
    print(f"{label:<52} CPU {cpu_us:7.0f} us   wall {wall_us:7.0f} us")


async def main(url: str, n: int) -> None:
    raw = await asyncpg.connect(url, ssl=False)
    database = Database(url, pool_size=1)

    prepared = await raw.prepare("SELECT $1::int")

    async def raw_write(statements: int) -> None:
        async with raw.transaction():
            for _ in range(statements):
                await prepared.fetch(1)

    async def store_read() -> None:
        async with database.connect() as conn:
            await conn.run(_ONE, {"b_n": 1})

    async def store_write(statements: int) -> None:
        async with database.begin() as conn:
            for _ in range(statements):
                await conn.run(_ONE, {"b_n": 1})

    try:
        await _measure("asyncpg: one prepared SELECT (1 round trip)", n, lambda: raw.fetch("SELECT $1::int", 1))
        await _measure("asyncpg: transaction, 1 statement (3 round trips)", n, lambda: raw_write(1))
        await _measure("asyncpg: transaction, 5 statements (7 round trips)", n, lambda: raw_write(5))
        await _measure("store: read, one statement (1 round trip)", n, store_read)
        await _measure("store: empty write transaction (0 round trips)", n, lambda: store_write(0))
        await _measure("store: write, 1 statement (3 round trips)", n, lambda: store_write(1))
        await _measure("store: write, 5 statements (7 round trips)", n, lambda: store_write(5))
    finally:
        await raw.close()
        await database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.n))
