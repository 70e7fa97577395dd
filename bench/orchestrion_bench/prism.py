"""Prism as a peer: Stoplight's stateless Node.js mock server, serving the reference OpenAPI document.

It validates each request against the document and answers its examples:
no storage, no dispatch. If Orchestrion is slower than that at creating or
reading an Action, the cost is ours, not the machine's. The bench installs
the pinned package with npm into the run's temp dir (once per run) and skips
the target, saying why, when Node.js or npm is missing, the install fails, or
the reference document is not there.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from orchestrion_bench import HOST
from orchestrion_bench.client import basic_auth
from orchestrion_bench.orchestrion import child_env
from orchestrion_bench.processes import free_port, log_tail
from orchestrion_bench.running import RunContext, Running, Skipped

PACKAGE = "@stoplight/prism-cli@5.16.0"
INSTALL_TIMEOUT_S = 300.0
# Phases Prism can take: it mocks /v2 only (no inbound webhook) and keeps no state (nothing ever ends).
PHASES = frozenset({"post", "get"})


def _missing(ctx: RunContext) -> str | None:
    """Why Prism cannot run here, or None."""
    if not Path(ctx.args.reference).exists():
        return f"no reference document at {ctx.args.reference} (--reference)"
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} not found: install Node.js to compare with Prism"
    return None


async def _install(ctx: RunContext) -> Path:
    """The prism executable, installed with npm into the run's temp dir the first time."""
    folder = ctx.workdir / "prism"
    binary = folder / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    log = ctx.workdir / "prism-npm.log"
    argv = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error", PACKAGE]
    proc = ctx.procs.spawn(argv, child_env(ctx), log, None)
    try:
        code = await asyncio.to_thread(proc.wait, INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise Skipped(f"npm install {PACKAGE} took more than {INSTALL_TIMEOUT_S:g}s") from None
    finally:
        await asyncio.to_thread(ctx.procs.stop, proc)
    if code != 0 or not binary.exists():
        raise Skipped(f"npm install {PACKAGE} failed ({code}): {' | '.join(log_tail([log], 3).splitlines()[1:])}")
    return binary


async def start_prism(ctx: RunContext) -> Running:
    missing = _missing(ctx)
    if missing is not None:
        raise Skipped(missing)
    binary = await _install(ctx)
    port = free_port()
    log = ctx.workdir / "prism.log"
    argv = [str(binary), "mock", "--host", HOST, "--port", str(port), "--verboseLevel", "warn", str(ctx.args.reference)]
    proc = ctx.procs.spawn(argv, child_env(ctx), log, ctx.server_cpus)
    return Running(
        "prism", HOST, port, basic_auth(ctx.account_sid, ctx.auth_token), [proc], [log],
        stores_actions=False, ready_path="/v2/ControlPlane/Configurations",
    )  # fmt: skip
