"""A real HTTP receiver on loopback for status-callback tests: it records every request and answers as told.

The answer is a function of the request, run in the request's own thread, so
it may block (on a ``threading.Event``) to play a slow receiver. Waits are
bounded by deadlines; nothing here asserts how long anything took.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from tests.acceptance.loopback import serve

T = TypeVar("T")
WAIT_S = 30.0


@dataclass(frozen=True)
class Received:
    number: int  # order of arrival, from 1
    method: str
    url: str  # as the sender asked for it: http://127.0.0.1:<port><path>?<query>
    headers: dict[str, str]  # names in lower case
    body: str
    answered_before: int  # how many requests had been answered when this one arrived

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    @property
    def envelope(self) -> dict[str, Any]:
        """``{"eventType", "timestamp", "data"}``: the JSON body of a POST, the query of a GET."""
        if self.method == "GET":
            q = self.query
            return {"eventType": q["EventType"][0], "timestamp": q["Timestamp"][0], "data": json.loads(q["Data"][0])}
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event_type(self) -> str:
        return str(self.envelope["eventType"])

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.envelope["data"]
        return data

    @property
    def token(self) -> str:
        return self.headers["i-twilio-idempotency-token"]

    def signed_with(self, auth_token: str) -> bool:
        """Whether twilio's own RequestValidator accepts the request's X-Twilio-Signature."""
        params: Any = {} if self.method == "GET" else self.body
        return bool(RequestValidator(auth_token).validate(self.url, params, self.headers.get("x-twilio-signature", "")))


Answer = Callable[[Received], int]


@dataclass
class Receiver:
    """Serves on 127.0.0.1 (a free port) until closed."""

    answer: Answer = field(default=lambda _r: 200)
    record: bool = True  # False: answer only (a sink for a whole session)
    port: int = 0  # 0: a free one
    _requests: list[Received] = field(default_factory=list)
    _answered: list[int] = field(default_factory=list)  # request numbers, in the order their answers were sent
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                host = f"http://127.0.0.1:{receiver.port}"
                received = receiver._arrived(
                    self.command, host + self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                status = receiver.answer(received)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver._done(received.number)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, self._thread = serve(Handler, self.port)
        self.port = int(self._server.server_address[1])

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _arrived(self, method: str, url: str, headers: dict[str, str], body: str) -> Received:
        with self._cond:
            received = Received(len(self._requests) + 1, method, url, headers, body, len(self._answered))
            if self.record:
                self._requests.append(received)
                self._cond.notify_all()
            return received

    def _done(self, number: int) -> None:
        if not self.record:
            return
        with self._cond:
            self._answered.append(number)
            self._cond.notify_all()

    def requests(self, path: str | None = None) -> list[Received]:
        with self._cond:
            return [r for r in self._requests if path is None or r.path == path]

    def answered(self) -> list[int]:
        with self._cond:
            return list(self._answered)

    def wait_for(self, probe: Callable[[list[Received]], T | None], what: str, timeout_s: float = WAIT_S) -> T:
        """Wait until ``probe(requests so far)`` returns something; fail after ``timeout_s`` (a bound, not a claim)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                value = probe(list(self._requests))
                if value is not None:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    shown = [(r.method, r.path, r.headers.get("i-twilio-idempotency-token")) for r in self._requests]
                    raise AssertionError(f"gave up waiting for {what} after {timeout_s}s; received {shown}")
                self._cond.wait(min(left, 0.5))

    def wait_for_events(self, count: int, path: str | None = None, what: str = "") -> list[Received]:
        """The first ``count`` requests (to ``path``), once they have arrived."""

        def probe(requests: list[Received]) -> list[Received] | None:
            matching = [r for r in requests if path is None or r.path == path]
            return matching[:count] if len(matching) >= count else None

        return self.wait_for(probe, what or f"{count} callback(s){'' if path is None else ' to ' + path}")
