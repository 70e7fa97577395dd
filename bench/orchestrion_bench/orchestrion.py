"""Orchestrion as a target: ``orchestrion serve`` (and ``orchestrion worker`` processes) on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from orchestrion_bench import HOST, REPO_ROOT, collector
from orchestrion_bench.client import basic_auth
from orchestrion_bench.pgdb import with_database
from orchestrion_bench.processes import free_port
from orchestrion_bench.running import RunContext, Running, Skipped, wait_ready


def child_env(ctx: RunContext) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ORCHESTRION_ACCOUNT_SID=ctx.account_sid,
        ORCHESTRION_AUTH_TOKEN=ctx.auth_token,
        ORCHESTRION_SANDBOX_STEP_MS="0",
        ORCHESTRION_LOG_LEVEL="warning",
        ORCHESTRION_SECRET_KEY_FILE=str(ctx.workdir / "orchestrion.key"),
    )
    src = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def orchestrion_argv(ctx: RunContext) -> list[str]:
    binary = Path(ctx.args.orchestrion_bin)
    if binary.exists():
        return [str(binary)]
    # Not pip-installed yet: run the CLI entry point from src/ directly.
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'orchestrion'; from orchestrion.cli import main; sys.exit(main())",
    ]


async def _start_orchestrion(
    ctx: RunContext,
    label: str,
    database_url: str,
    serve_flags: Sequence[str] = (),
    worker_processes: int = 0,
    env_extra: Mapping[str, str] | None = None,
    compare: bool = False,
) -> Running:
    port = free_port()
    env = {**child_env(ctx), **(env_extra or {})}
    base = orchestrion_argv(ctx)
    if compare:
        # Another build of Orchestrion (say, main's) to set beside this one in the same run.
        if ctx.args.compare_bin is None:
            raise Skipped("give --compare-bin PATH (the orchestrion executable of another checkout)")
        base = [str(ctx.args.compare_bin)]
        env.pop("PYTHONPATH", None)
    serve_log = ctx.workdir / f"{label}-serve.log"
    procs = [
        ctx.procs.spawn(
            [*base, "serve", "--host", HOST, "--port", str(port),
             "--database-url", database_url, *serve_flags],
            env, serve_log, ctx.server_cpus,
        )
    ]  # fmt: skip
    logs = [serve_log]
    running = Running(
        label, HOST, port, basic_auth(ctx.account_sid, ctx.auth_token), procs, logs,
        stores_actions=True,
    )  # fmt: skip
    if worker_processes:
        # Every orchestrion command migrates first; let serve do it alone.
        await wait_ready(running, ctx.args.startup_timeout_s)
    for i in range(worker_processes):
        log = ctx.workdir / f"{label}-worker{i}.log"
        procs.append(
            ctx.procs.spawn(
                [*base, "worker", "--database-url", database_url,
                 "--concurrency", str(ctx.args.worker_concurrency)],
                env, log, ctx.server_cpus,
            )
        )  # fmt: skip
        logs.append(log)
    return running


def _sqlite_url(ctx: RunContext, label: str) -> str:
    """A new database file each time the target starts: every round begins empty."""
    return f"sqlite:///{ctx.workdir / f'{label}-{secrets.token_hex(4)}.db'}"


def pg_target(
    label: str,
    serve_flags: Sequence[str] = (),
    worker_processes: int = 0,
    env: Mapping[str, str] | None = None,
    compare: bool = False,
) -> Callable[[RunContext], Awaitable[Running]]:
    """``env``: settings of this target only (e.g. ``ORCHESTRION_DB_POOL_SIZE``); ``compare``: ``--compare-bin``."""

    async def start(ctx: RunContext) -> Running:
        return await with_database(
            ctx, lambda url: _start_orchestrion(ctx, label, url, serve_flags, worker_processes, env, compare)
        )

    return start


def sqlite_target(
    label: str,
    serve_flags: Sequence[str] = (),
    worker_processes: int = 0,
    env: Mapping[str, str] | None = None,
    compare: bool = False,
) -> Callable[[RunContext], Awaitable[Running]]:
    async def start(ctx: RunContext) -> Running:
        url = _sqlite_url(ctx, label)
        return await _start_orchestrion(ctx, label, url, serve_flags, worker_processes, env, compare)

    return start


def tracing_target(label: str, sample_ratio: float | None = None) -> Callable[[RunContext], Awaitable[Running]]:
    """sqlite-1proc with ORCHESTRION_TRACING=on, exporting by OTLP to a no-op collector on loopback; every trace
    sampled, or with ``sample_ratio`` as OTEL_TRACES_SAMPLER=parentbased_traceidratio's argument."""

    async def start(ctx: RunContext) -> Running:
        env = {"ORCHESTRION_TRACING": "on", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.start() + "/v1/traces"}
        if sample_ratio is not None:
            env |= {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(sample_ratio)}
        return await sqlite_target(label, env=env)(ctx)

    return start
