"""An HTTP server on 127.0.0.1 in a thread, for the test stand-ins (receivers, gateways, fake APIs)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that gave up on a slow answer closes its end: not the test's business


def serve(handler: type[BaseHTTPRequestHandler], port: int = 0) -> tuple[QuietServer, threading.Thread]:
    """Serve ``handler`` on ``port`` (0: a free one) until ``server.shutdown()``."""
    server = QuietServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread
