"""Real Orchestrion processes (serve, worker) for multi-process tests.

Each process's log (stderr) goes to a file of its own: under ``log_dir`` when
one is given, so a test can read what a process said, otherwise a temporary
file, shown when a server fails to start (a file never fills up and blocks the
process, as a pipe would).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from tests.conftest import SECRET_KEY, TEST_API_CONNECTIONS, TEST_WORKER_CONCURRENCY, free_port

ORCHESTRION = str(Path(sys.executable).parent / "orchestrion")


def process_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRION_")}
    env.update(
        ORCHESTRION_DATABASE_URL=database_url,
        ORCHESTRION_SECRET_KEY=SECRET_KEY,
        ORCHESTRION_LOG_LEVEL="warning",
        # As the in-process servers' (tests/conftest.py): small pools, the suite runs in parallel.
        ORCHESTRION_DB_API_CONNECTIONS=str(TEST_API_CONNECTIONS),
        ORCHESTRION_WORKER_CONCURRENCY=str(TEST_WORKER_CONCURRENCY),
    )
    env.update(extra)
    return env


@dataclass
class Processes:
    """Starts processes and makes sure every one of them is gone at the end."""

    database_url: str
    log_dir: Path | None = None
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: dict[int, Path] = field(default_factory=dict)
    _errors: dict[int, IO[bytes]] = field(default_factory=dict)  # without log_dir: open until stop_all

    def _start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        if self.log_dir is not None:
            log: IO[bytes] = (self.log_dir / f"{argv[0]}-{len(self.children) + 1}.log").open("wb")
        else:
            log = tempfile.TemporaryFile()  # noqa: SIM115 - open while the process runs; closed by stop_all
        proc = subprocess.Popen(
            [ORCHESTRION, *argv],
            env=process_env(self.database_url, **env),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        if self.log_dir is not None:
            log.close()
            self._logs[proc.pid] = Path(str(log.name))
        else:
            self._errors[proc.pid] = log
        self.children.append(proc)
        return proc

    def start_serve(self, *args: str, port: int | None = None, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
        """Start ``orchestrion serve`` on ``port`` (a free one by default); its URL and process, without waiting."""
        port = port or free_port()
        proc = self._start(["serve", "--port", str(port), *args], env)
        return f"http://127.0.0.1:{port}", proc

    def healthy(self, url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> str:
        """Wait until the server answers /healthz; fail with its error output if it exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"orchestrion serve exited with {proc.returncode}: {self.error_output(proc)}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("orchestrion serve did not become healthy")

    def error_output(self, proc: subprocess.Popen[bytes]) -> str:
        """The end of what the process wrote to its error output."""
        if proc.pid in self._logs:
            return self.log(proc)[-2000:]
        errors = self._errors.get(proc.pid)
        if errors is None:
            return ""
        errors.seek(0)
        return errors.read().decode(errors="replace")[-2000:]

    def serve_process(self, *args: str, port: int | None = None, **env: str) -> tuple[subprocess.Popen[bytes], str]:
        """``orchestrion serve`` on ``port`` (a free one by default), once it answers ``/healthz``."""
        url, proc = self.start_serve(*args, port=port, **env)
        return proc, self.healthy(url, proc)

    def serve(self, *args: str, **env: str) -> str:
        return self.serve_process(*args, **env)[1]

    def worker(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        return self._start(["worker", *args], env)

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        """What the process wrote to its log so far (needs ``log_dir``)."""
        return self._logs[proc.pid].read_text(errors="replace")

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no cleanup, no lease release; what a crash looks like."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    @staticmethod
    def terminate(proc: subprocess.Popen[bytes], timeout_s: float = 60) -> int:
        """SIGTERM, as a service manager stops a process; its exit status."""
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout_s)

    def stop_all(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.children:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for errors in self._errors.values():
            errors.close()
