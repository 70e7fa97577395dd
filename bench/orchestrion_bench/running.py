"""A target while it runs: its processes, where it listens, how to tell it is ready, how it stops."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestrion_bench.client import RawConnection
from orchestrion_bench.processes import ProcessRegistry, log_tail


class Skipped(Exception):
    """The target cannot run on this machine (a tool is missing): reported, not a failure."""


@dataclass
class RunContext:
    args: argparse.Namespace
    workdir: Path
    procs: ProcessRegistry
    account_sid: str
    auth_token: str
    server_cpus: set[int] | None


@dataclass
class Running:
    label: str
    host: str
    port: int
    auth_header: bytes
    procs: list[subprocess.Popen[bytes]]
    log_paths: list[Path]
    # True for Orchestrion: it needs a configuration and conversations first, its
    # actions are dispatched (drained before GET) and their number is budgeted.
    # The bare apps and Prism take any conversation id and keep (at most) one row.
    stores_actions: bool
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    db_tag: str | None = None  # names this target's PostgreSQL backends (see CpuMeter)
    database_url: str | None = None  # Orchestrion's, for what only the database knows (stamps)
    ready_path: str = "/healthz"  # answers 200 once the target serves

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str
    start: Callable[[RunContext], Awaitable[Running]]
    # The phases this target can take part in (None: all); the others are left out for it.
    phases: frozenset[str] | None = None
    kind: str = "orchestrion"  # or "floor", "limit", "peer": what the report compares with what
    backend: str | None = None  # "sqlite" | "postgresql" (Orchestrion and the limits)


async def wait_ready(running: Running, timeout_s: float) -> None:
    conn = RawConnection(running.host, running.port, running.auth_header)
    deadline = time.perf_counter() + timeout_s
    try:
        while time.perf_counter() < deadline:
            for p in running.procs:
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{running.label}: process exited with {p.returncode}\n" + log_tail(running.log_paths)
                    )
            try:
                async with asyncio.timeout(2):
                    status, _ = await conn.request("GET", running.ready_path)
                if status == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                conn.close()
            await asyncio.sleep(0.1)
    finally:
        conn.close()
    raise RuntimeError(
        f"{running.label}: {running.ready_path} not 200 after {timeout_s}s\n" + log_tail(running.log_paths)
    )


async def stop_running(ctx: RunContext, running: Running) -> None:
    for p in running.procs:
        await asyncio.to_thread(ctx.procs.stop, p)
    for cleanup in running.cleanups:
        try:
            await cleanup()
        except Exception as exc:  # noqa: BLE001 - a failed cleanup must not hide the results
            print(f"warning: cleanup for {running.label} failed: {exc}", file=sys.stderr)
