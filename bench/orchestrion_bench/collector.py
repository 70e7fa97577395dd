"""A no-op OTLP/HTTP collector on loopback: it takes every export and keeps nothing.

The tracing target exports its spans here, so the bench measures what producing
and exporting spans costs the server, and not what a real collector does with them.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_started: list[str] = []
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
