"""Real Orchestrion processes (serve, worker) for multi-process tests."""

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

from tests.conftest import SECRET_KEY, free_port

ORCHESTRION = str(Path(sys.executable).parent / "orchestrion")


def process_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRION_")}
    env.update(
        ORCHESTRION_DATABASE_URL=database_url,
        ORCHESTRION_SECRET_KEY=SECRET_KEY,
        ORCHESTRION_LOG_LEVEL="warning",
        **extra,
    )
    return env


@dataclass
class Processes:
    """Starts processes and makes sure every one of them is gone at the end."""

    database_url: str
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Each server's error output, in a file: a file never fills up and blocks the server, as a pipe would.
    errors: dict[int, IO[bytes]] = field(default_factory=dict)

    def serve(self, *args: str, **env: str) -> str:
        return self.healthy(*self.start_serve(*args, **env))

    def start_serve(self, *args: str, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
        """Start ``orchestrion serve`` on a free port; its URL and process, without waiting for it."""
        port = free_port()
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - open while the server runs; closed by stop_all
        proc = subprocess.Popen(
            [ORCHESTRION, "serve", "--port", str(port), *args],
            env=process_env(self.database_url, **env),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        self.children.append(proc)
        self.errors[proc.pid] = errors
        return f"http://127.0.0.1:{port}", proc

    def error_output(self, proc: subprocess.Popen[bytes]) -> str:
        errors = self.errors.get(proc.pid)
        if errors is None:
            return ""
        errors.seek(0)
        return errors.read().decode(errors="replace")[-2000:]

    def healthy(self, url: str, proc: subprocess.Popen[bytes]) -> str:
        """Wait until the server answers /healthz; fail with its error output if it exits first."""
        deadline = time.monotonic() + 60
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

    def worker(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [ORCHESTRION, "worker", *args],
            env=process_env(self.database_url, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no cleanup, no lease release; what a crash looks like."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

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
        for errors in self.errors.values():
            errors.close()
