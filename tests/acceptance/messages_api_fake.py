"""A small stand-in for Twilio's Messages API on loopback, for the twilio provider's tests.

It takes ``POST .../Messages.json`` with Basic auth (the Twilio account SID and
auth token), fails Twilio's magic numbers at once as Twilio's test credentials
do (400 with Twilio's code), answers faults it is told to (a 429 with
``Retry-After``, a 500), can accept a message and then not answer in time
(the sender cannot tell whether it was sent), lists messages newest first
(``GET .../Messages.json?To=&From=``), and posts ``sent`` then ``delivered``
to each message's ``StatusCallback``, signed as Twilio signs.
"""

from __future__ import annotations

import base64
import email.utils
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from orchestrion.channels.sandbox import TWILIO_MAGIC_FAILURES
from tests.acceptance.loopback import serve


@dataclass(frozen=True)
class Fault:
    status: int
    code: int
    retry_after: str | None = None


@dataclass
class FakeMessagesApi:
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    messages: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # answered to the next POSTs, in order
    hang_s: list[float] = field(default_factory=list)  # accept the next POSTs, then answer this late
    posts: int = 0
    callback_after_s: float = 0.0  # how long Twilio takes to send a message (its callbacks wait that long)
    callbacks: list[tuple[str, int]] = field(default_factory=list)  # (status, answer) of each callback
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = {k: v for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake._post(self, form)

            def do_GET(self) -> None:
                fake._list(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, _ = serve(Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sent_to(self, to: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["to"] == to]

    # --- serving

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return handler.headers.get("authorization") == f"Basic {expected}" and self.account_sid in handler.path

    def _answer(
        self, handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        raw = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: int, message: str, **headers: str) -> None:
        body = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self._answer(handler, status, body, headers)

    def _post(self, handler: BaseHTTPRequestHandler, form: dict[str, list[str]]) -> None:
        if not self._authorized(handler):
            self._error(handler, 401, 20003, "Authenticate")
            return
        with self._lock:
            self.posts += 1
            fault = self.faults.pop(0) if self.faults else None
            hang = self.hang_s.pop(0) if self.hang_s else 0.0
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._error(handler, fault.status, fault.code, "Simulated failure", **extra)
            return
        to = form["To"][0]
        magic = TWILIO_MAGIC_FAILURES.get(to.rpartition(":")[2])
        if magic is not None:
            code, text = magic
            self._error(handler, 400, code, text.format(to=to, from_=form["From"][0], channel="SMS"))
            return
        message = {
            "sid": "SM" + secrets.token_hex(16),
            "account_sid": self.account_sid,
            "to": to,
            "from": form["From"][0],
            "body": form.get("Body", [""])[0],
            "num_media": str(len(form.get("MediaUrl", []))),
            "media_urls": form.get("MediaUrl", []),
            "status": "queued",
            "date_created": email.utils.formatdate(time.time(), usegmt=True),
            "status_callback": form.get("StatusCallback", [None])[0],
        }
        with self._lock:
            self.messages.append(message)
        if message["status_callback"]:  # Twilio reports whether or not its answer reached the sender
            threading.Thread(target=self._report, args=(message, hang + self.callback_after_s), daemon=True).start()
        if hang:
            time.sleep(hang)
        self._answer(handler, 201, message)

    def _list(self, handler: BaseHTTPRequestHandler) -> None:
        if not self._authorized(handler):
            self._error(handler, 401, 20003, "Authenticate")
            return
        query = parse_qs(urlsplit(handler.path).query)
        with self._lock:
            found = [
                m
                for m in reversed(self.messages)
                if all(m[key] == query[param][0] for param, key in (("To", "to"), ("From", "from")) if param in query)
            ]
        self._answer(handler, 200, {"messages": found, "next_page_uri": None})

    def _report(self, message: dict[str, Any], after_s: float) -> None:
        """``sent`` then ``delivered``, each signed with the auth token, as Twilio posts them."""
        url = message["status_callback"]
        time.sleep(after_s)
        for status in ("sent", "delivered"):
            time.sleep(0.05)
            params = {
                "MessageSid": message["sid"],
                "MessageStatus": status,
                "To": message["to"],
                "From": message["from"],
                "AccountSid": self.account_sid,
            }
            signature = RequestValidator(self.auth_token).compute_signature(url, params)
            try:
                answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)
            except httpx.HTTPError:
                return  # the server has stopped: the test is over
            with self._lock:
                self.callbacks.append((status, answer.status_code))
