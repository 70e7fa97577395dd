"""Where a target's CPU goes during a phase: py-spy samples of its processes, and a summary of them.

``--profile DIR`` attaches ``py-spy record`` (``pip install '.[bench]'``) to
each server process (children included) for the measured part of the POST,
GET and inbound phases, and writes one collapsed-stack file per target and
phase (``DIR/<target>-<phase>.txt``, flamegraph.pl input). Sampling costs the
target some CPU: read the throughput of a profiled run as disturbed.

``python -m orchestrion_bench.profile FILE...`` prints, for each file, where
the samples' time goes (each sample in one group of ``LAYERS``: the group of
its frame nearest the leaf that has one; the event loop waiting for work is
``idle``), the share of samples passing through a few parts of Orchestrion
(``THROUGH``), and the top frames by self time.
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

# Where each sample's time goes, exclusively: the frame nearest the leaf that matches one of these
# (substrings of "function (file:line)") names its group; the first group that matches a frame wins.
# A sample whose leaf is the event loop's own run frame is the process waiting for work.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("commit (COMMIT and what it writes)", ("do_commit", "_commit_impl", ".commit (")),
    ("connecting (handshake, SSL)", ("_create_ssl_connection", "asyncpg/connect_utils.py", "__connect (sqlalchemy")),
    ("driver: cursor.execute, prepared statements", ("do_execute (sqlalchemy", "run_on_sqlite (orchestrion/store")),
    ("driver: asyncpg", ("asyncpg/",)),
    ("greenlet bridge (asyncio <-> SQLAlchemy)", ("greenlet_spawn", "await_only", "greenlet")),
    ("SQLAlchemy (statement setup, results, pool)", ("sqlalchemy/",)),
    ("request bodies (pydantic)", ("pydantic",)),
    ("JSON (orjson) and wire rendering", ("orjson", "orchestrion/wire/", "api/jsonio.py")),
    ("logging (structlog)", ("structlog",)),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/",)),
    ("Starlette (routing, middleware)", ("starlette/",)),
    ("Orchestrion API layer (gate, routes)", ("orchestrion/api/",)),
    ("Orchestrion services, dispatcher, store (Python)", ("orchestrion/",)),
    ("asyncio machinery", ("asyncio/", "uvloop")),
]
IDLE = ("Runner.run (asyncio/runners.py", "run_until_complete")
# Inclusive shares: a sample counts for each of these its stack passes through.
THROUGH: list[tuple[str, tuple[str, ...]]] = [
    ("the route handlers (all a request does past the HTTP edge)", ("orchestrion/api/routes/",)),
    ("the in-process dispatcher (claim, jobs, finish)", ("orchestrion/dispatch/worker.py",)),
    ("the sandbox send and its outcome", ("services/sandbox.py", "services/outcomes.py", "channels/sandbox.py")),
    ("status-callback events", ("services/events.py",)),
    ("store writes (store.write())", ("Database.begin (orchestrion/store/database.py",)),
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
    """(frames root first, count) per stack; the ``process N:...`` frame of --subprocesses left out."""
    out = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            out.append(([f for f in frames if not f.startswith("process ")], int(count)))
    return out


def _layer(frames: list[str]) -> str:
    if not frames:
        return "no Python frame (native code: GC, extensions)"
    if any(s in frames[-1] for s in IDLE):
        return "idle (waiting in the event loop)"
    for frame in reversed(frames):
        for label, needles in LAYERS:
            if any(s in frame for s in needles):
                return label
    return "other"


def summarize(path: Path, top: int = 15) -> str:
    samples = _samples(path)
    total = sum(n for _, n in samples) or 1
    lines = [f"{path.name}: {total} samples", "  where the time goes (each sample counted once):"]
    layers: Counter[str] = Counter()
    for frames, n in samples:
        layers[_layer(frames)] += n
    lines += [f"  {100 * n / total:5.1f} %  {label}" for label, n in layers.most_common()]
    lines.append("  passing through (a sample counts for each):")
    for label, needles in THROUGH:
        hit = sum(n for frames, n in samples if any(any(s in f for s in needles) for f in frames))
        lines.append(f"  {100 * hit / total:5.1f} %  {label}")
    own: Counter[str] = Counter()
    for frames, n in samples:
        own[frames[-1] if frames else "(no Python frame)"] += n
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
