"""Orchestrion as a target: ``orchestrion serve`` (and ``orchestrion worker`` processes) on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
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
    port: int | None = None,
) -> Running:
    port = port or free_port()
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
        stores_actions=True, database_url=database_url,
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


# How long a server may use its copy of an account's provider configuration (ORCHESTRION_PROVIDERS_REFRESH_S).
_PROVIDERS_REFRESH_S = 2.0


def twilio_target(label: str, *, stub: bool = False) -> Callable[[RunContext], Awaitable[Running]]:
    """sqlite-1proc whose SMS go through the twilio provider to the same server's own Messages API.

    A second account of the server stands for the Twilio account: the provider POSTs each message
    to ``/2010-04-01/Accounts/{it}/Messages.json`` on loopback, and Orchestrion's Messages API
    (sandbox behind it, step 0) posts signed status callbacks back to ``/twilio/{bench account}/status``.
    ``stub``: to ``bench/messages_api_stub.py`` instead (answers at once, reports sent and delivered).
    """

    async def start(ctx: RunContext) -> Running:
        from orchestrion_bench.bare import serve_app  # bare imports this module

        port = free_port()
        base_url = f"http://{HOST}:{port}"
        url = _sqlite_url(ctx, label)
        env = {"ORCHESTRION_PUBLIC_URL": base_url}
        running = await _start_orchestrion(ctx, label, url, env_extra=env, port=port)
        await wait_ready(running, ctx.args.startup_timeout_s)
        cli = [*orchestrion_argv(ctx), "--database-url", url]
        cli_env = {**child_env(ctx), **env}
        if stub:
            twilio = {"accountSid": "AC" + secrets.token_hex(16), "authToken": secrets.token_hex(16)}
            api = await serve_app(ctx, f"{label}-stub", "messages_api_stub", {"STUB_AUTH_TOKEN": twilio["authToken"]})
            await wait_ready(api, ctx.args.startup_timeout_s)
            running.procs.extend(api.procs)
            running.log_paths.extend(api.log_paths)
            api_url = api.base_url
        else:
            twilio = json.loads(await _run([*cli, "accounts", "create", "--json"], cli_env))
            api_url = base_url
        await _run(
            [*cli, "providers", "set", ctx.account_sid, "twilio", "--twilio-account-sid", twilio["accountSid"],
             "--auth-token", "-", "--api-url", api_url, "--channels", "sms"],
            cli_env, stdin=twilio["authToken"] + "\n",
        )  # fmt: skip
        await asyncio.sleep(_PROVIDERS_REFRESH_S + 0.5)  # the server's copy of "no providers" runs out
        return running

    return start


async def _run(argv: list[str], env: Mapping[str, str], stdin: str | None = None) -> str:
    done = await asyncio.to_thread(
        subprocess.run, argv, env=dict(env), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[-6:])}: {done.stderr.strip()}")
    return done.stdout
