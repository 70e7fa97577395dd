"""The bare apps as targets: the floor (``baseline_app``) and the storage limits (``limit_*_app``).

Each is served exactly like the floor: ``uvicorn`` with uvloop and httptools,
one worker, no access log, no server header. The limits keep one row per POST
(SQLite file in the run's temp dir, or a throwaway PostgreSQL database) and
read it back by primary key on GET: what the storage alone allows on this
machine, with and without group commit.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping

from orchestrion_bench import BENCH_DIR, HOST
from orchestrion_bench.client import basic_auth
from orchestrion_bench.orchestrion import child_env
from orchestrion_bench.pgdb import with_database
from orchestrion_bench.processes import free_port
from orchestrion_bench.running import RunContext, Running

Start = Callable[[RunContext], Awaitable[Running]]


async def serve_app(ctx: RunContext, label: str, module: str, env: Mapping[str, str] | None = None) -> Running:
    """``bench/<module>.py``'s ``app`` under uvicorn, with the floor's settings."""
    port = free_port()
    log = ctx.workdir / f"{label}.log"
    argv = [
        sys.executable, "-m", "uvicorn", f"{module}:app",
        "--app-dir", str(BENCH_DIR),
        "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--no-server-header", "--log-level", "warning", "--workers", "1",
    ]  # fmt: skip
    proc = ctx.procs.spawn(argv, {**child_env(ctx), **(env or {})}, log, ctx.server_cpus)
    return Running(label, HOST, port, basic_auth("x", "y"), [proc], [log], stores_actions=False)


async def start_baseline(ctx: RunContext) -> Running:
    return await serve_app(ctx, "baseline", "baseline_app")


def sqlite_limit(label: str, *, group_commit: bool) -> Start:
    async def start(ctx: RunContext) -> Running:
        env = {
            "LIMIT_SQLITE_PATH": str(ctx.workdir / f"{label}.db"),
            "LIMIT_GROUP_COMMIT": "1" if group_commit else "0",
        }
        return await serve_app(ctx, label, "limit_sqlite_app", env)

    return start


def asyncpg_limit(label: str, *, group_commit: bool) -> Start:
    async def start(ctx: RunContext) -> Running:
        def serve(url: str) -> Awaitable[Running]:
            env = {
                "LIMIT_PG_DSN": url,
                "LIMIT_GROUP_COMMIT": "1" if group_commit else "0",
                "LIMIT_PG_POOL": str(ctx.args.limit_pg_pool),
            }
            return serve_app(ctx, label, "limit_asyncpg_app", env)

        return await with_database(ctx, serve)

    return start
