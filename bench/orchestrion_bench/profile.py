"""Where a target's CPU goes during a phase: py-spy samples of its processes, and a summary of them.

``--profile DIR`` attaches ``py-spy record`` (``pip install '.[bench]'``) to
each server process (children included) for the measured part of the POST,
GET and inbound phases, and writes one collapsed-stack file per target and
phase (``DIR/<target>-<phase>.txt``, flamegraph.pl input). Sampling costs the
target some CPU: read the throughput of a profiled run as disturbed.

``python -m orchestrion_bench.profile FILE...`` prints, for each file, the
share of samples that spend time in each group of ``GROUPS`` (inclusive: a
sample counts for every group one of its frames matches) and the top frames
by self time. A Python target idle in the event loop shows up as ``idle``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from orchestrion_bench.running import RunContext, Running

# (label, substrings of a frame "function (file:line)"): what the summary reports a share for.
GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("idle (event loop waiting)", ("select (selectors.py", "run_forever (uvloop", "poll (selectors.py")),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/protocols",)),
    ("Starlette routing and middleware", ("starlette/routing.py", "starlette/middleware", "starlette/_exception")),
    ("Orchestrion gate (auth, rate limits)", ("orchestrion/api/gate.py",)),
    ("request bodies (pydantic)", ("pydantic", "api/jsonio.py")),
    ("SQLAlchemy statement execution", ("sqlalchemy/engine/",)),
    ("SQLAlchemy compile/cache", ("sqlalchemy/sql/compiler.py", "sqlalchemy/sql/cache_key.py")),
    ("greenlet bridge (asyncio <-> SQLAlchemy)", ("greenlet_spawn", "await_only")),
    ("asyncpg driver", ("asyncpg/",)),
    ("sqlite3 driver", ("sqlite3", "_SyncConnection")),
    ("connect / SSL handshake", ("_create_ssl_connection", "asyncpg/connect_utils.py", "pool/impl.py:_do_get")),
    ("commit", ("do_commit", "_commit_impl", "commit (")),
    ("dispatcher (claim, run, finish)", ("orchestrion/dispatch/worker.py",)),
    ("sandbox send and outcomes", ("services/sandbox.py", "services/outcomes.py", "channels/sandbox.py")),
    ("status callbacks (events)", ("services/events.py",)),
    ("structlog logging", ("structlog",)),
    ("JSON (orjson) and wire rendering", ("orjson", "orchestrion/wire/", "api/wire")),
]


def available() -> str | None:
    """Why profiling cannot run, or None."""
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        return "py-spy not found: pip install '.[bench]' (or py-spy) into the bench's environment"
    return None


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else "py-spy"


@contextlib.asynccontextmanager
async def profiled(ctx: RunContext, running: Running, phase: str) -> AsyncIterator[None]:
    """Sample ``running``'s processes while the block runs (nothing without ``--profile``)."""
    folder: Path | None = ctx.args.profile
    if folder is None:
        yield
        return
    recorders: list[subprocess.Popen[bytes]] = []
    for proc in running.procs:
        out = folder / f"{running.label}-{phase}-{proc.pid}.txt"
        argv = [_py_spy(), "record", "--pid", str(proc.pid), "--subprocesses", "--nonblocking", "--idle",
                "--rate", str(ctx.args.profile_rate), "--format", "raw", "--output", str(out)]  # fmt: skip
        recorders.append(ctx.procs.spawn(argv, {}, folder / "py-spy.log", None))
    try:
        yield
    finally:
        for rec in recorders:
            with contextlib.suppress(ProcessLookupError):
                rec.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        for rec in recorders:
            await asyncio.to_thread(_wait, rec)
            await asyncio.to_thread(ctx.procs.stop, rec)


def _wait(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


def _samples(path: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def summarize(path: Path, top: int = 15) -> str:
    samples = _samples(path)
    total = sum(n for _, n in samples) or 1
    lines = [f"{path.name}: {total} samples"]
    for label, needles in GROUPS:
        hit = sum(n for frames, n in samples if any(any(s in f for s in needles) for f in frames))
        lines.append(f"  {100 * hit / total:5.1f} %  {label}")
    own: Counter[str] = Counter()
    for frames, n in samples:
        own[frames[-1]] += n
    lines.append("  top frames by self time:")
    lines += [f"  {100 * n / total:5.1f} %  {frame[:140]}" for frame, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Summarize py-spy raw (collapsed) profiles of the bench.")
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    for path in args.files:
        print(summarize(path, args.top) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
