"""Child processes of the bench: each in its own process group, all stopped on any exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from orchestrion_bench import HOST


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def log_tail(paths: Sequence[Path], lines: int = 30) -> str:
    out = []
    for p in paths:
        with contextlib.suppress(OSError):
            text = p.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {p.name} ---\n" + "\n".join(text))
    return "\n".join(out)


class ProcessRegistry:
    """Every child we start, so that any exit path can kill them all."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        cpus: set[int] | None,
    ) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=log_path.parent,  # the temp dir: whatever a server writes beside it goes away with it
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg reaches its workers
            )
        self._procs.append(proc)
        if cpus:
            # Right after exec, before the server forks any worker that would inherit it.
            os.sched_setaffinity(proc.pid, cpus)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout_s)
        # Also reap stragglers left in the group after the leader exited.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc in self._procs:
            self._procs.remove(proc)

    def mark(self) -> int:
        return len(self._procs)

    def stop_all(self, since: int = 0) -> None:
        for proc in self._procs[since:]:
            self.stop(proc, timeout_s=3.0)
