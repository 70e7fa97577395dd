"""A no-op OTLP/HTTP collector on loopback: it takes every export and keeps nothing.

The tracing target exports its spans here, so the bench measures what producing
and exporting spans costs the server, and not what a real collector does with them.
``start`` runs it in a thread of the calling process (the load generator's, apart
from the server it measures); ``start_process`` in a process of its own, for a bench
that measures the CPU time of the process that exports (bench/metrics_overhead.py).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_started: list[str] = []
_process: list[tuple[subprocess.Popen[str], str]] = []
_lock = threading.Lock()


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start() -> str:
    """The collector's base URL (started once per bench process, on a free port, in a daemon thread)."""
    with _lock:
        if not _started:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            _started.append(f"http://127.0.0.1:{server.server_address[1]}")
        return _started[0]


def start_process() -> str:
    """The base URL of a collector in a child process (one per bench process; it ends with its parent's stdin)."""
    with _lock:
        if not _process:
            child = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            assert child.stdout is not None
            _process.append((child, child.stdout.readline().strip()))
        return _process[0][1]


def _serve_until_stdin_closes() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    _serve_until_stdin_closes()
