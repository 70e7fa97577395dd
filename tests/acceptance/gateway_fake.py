"""A team's own message gateway on loopback, as the webhook provider's contract describes it.

It checks each request's signature (HMAC-SHA256 over ``"<timestamp>.<body>"``,
written here from the contract, not with Orchestrion's code), answers a
repeated ``Idempotency-Key`` with its first answer, and answers each new
message ``{"messageId": "gw-<n>"}``, or a fault it was told to give.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.acceptance.loopback import serve


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Orchestrion-Timestamp": str(timestamp),
        "X-Orchestrion-Signature": f"v1={mac}",
    }


@dataclass
class FakeGateway:
    secret: str
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Idempotency-Key
    requests: int = 0
    bad_signatures: int = 0
    faults: list[int] = field(default_factory=list)  # HTTP statuses for the next requests
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, answer = gateway._receive(dict(self.headers.items()), body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, _ = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/send"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _receive(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        stamp = headers.get("X-Orchestrion-Timestamp", "")
        expected = signed_headers(self.secret, int(stamp or 0), body)["X-Orchestrion-Signature"]
        with self._lock:
            self.requests += 1
            if not hmac.compare_digest(expected, headers.get("X-Orchestrion-Signature", "")):
                self.bad_signatures += 1
                return 401, {"code": 20003, "message": "bad signature"}
            if self.faults:
                return self.faults.pop(0), {"code": 30001, "message": "queue overflow"}
            key = headers["Idempotency-Key"]
            if key not in self.messages:
                self.messages[key] = {"id": f"gw-{len(self.messages) + 1}", "request": json.loads(body)}
            return 200, {"messageId": self.messages[key]["id"]}
