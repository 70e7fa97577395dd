"""Throwaway PostgreSQL databases for the targets that need one, dropped when the target stops."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from orchestrion_bench import HOST
from orchestrion_bench.running import RunContext, Running


async def create_database(
    ctx: RunContext,
) -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg  # only the postgres targets need it

    port = ctx.args.pg_port
    name = f"orchestrion_bench_{secrets.token_hex(6)}"
    last: Exception | None = None
    for user in ("root", "postgres"):
        try:
            conn = await asyncpg.connect(host=HOST, port=port, user=user, database="postgres", timeout=5)
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
        ) as exc:  # try the next role
            last = exc
            continue
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

        async def drop(user: str = user) -> None:
            c = await asyncpg.connect(host=HOST, port=port, user=user, database="postgres", timeout=5)
            try:
                await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await c.close()

        return f"postgresql://{user}@{HOST}:{port}/{name}", drop
    raise RuntimeError(f"cannot reach PostgreSQL on {HOST}:{port}: {last}")


async def with_database(ctx: RunContext, start: Callable[[str], Awaitable[Running]]) -> Running:
    """Start a target on a new database (``start(url)``); the database is dropped when the target stops."""
    url, drop = await create_database(ctx)
    try:
        running = await start(url)
    except BaseException:
        await drop()
        raise
    running.cleanups.append(drop)
    running.db_tag = url.rsplit("/", 1)[1]
    return running
