"""The requests a phase sends, built before it starts so that the client stays cheap."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from urllib.parse import urlencode

import orjson

from orchestrion_bench.client import Request

FROM_ADDRESS = "+15005550006"
# Inbound phase: customers write to this number (from --inbound-customers distinct numbers).
INBOUND_TO = FROM_ADDRESS


def send_message_body(recipient_index: int) -> bytes:
    return orjson.dumps(
        {
            "type": "SEND_MESSAGE",
            "payload": {
                "from": {"address": FROM_ADDRESS, "channel": "SMS"},
                "to": [
                    {
                        "address": f"+1415555{recipient_index % 10000:04d}",
                        "channel": "SMS",
                    }
                ],
                "content": {"text": "hi"},
            },
        }
    )


def twilio_signature(url: str, params: Sequence[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature of a form POST: base64(HMAC-SHA1(token, url + sorted name+value pairs)).

    The same as twilio.request_validator.RequestValidator(token).compute_signature(url, dict(params)).
    """
    payload = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


class InboundFeed:
    """Signed Twilio "message comes in" webhooks, built before the phase so the client stays cheap.

    Each has its own MessageSid (a repeat would be absorbed as a Twilio retry);
    senders go round-robin over ``customers`` numbers, so the messages
    land in that many conversations (one per sender). ``cycle``: reuse the
    messages once all are sent (the baseline, which keeps nothing).
    """

    def __init__(self, base_url: str, account_sid: str, auth_token: str, n: int, cycle: bool, customers: int) -> None:
        self.path = f"/twilio/{account_sid}/messages"
        url = base_url + self.path  # what the server rebuilds from the Host header
        run = secrets.token_hex(6)
        self._requests: list[Request] = []
        self.sids: list[str] = []
        for i in range(n):
            sid = f"SM{run}{i:020x}"
            params = [
                ("AccountSid", account_sid),
                ("Body", f"inbound {i}"),
                ("From", f"+1415555{i % customers:04d}"),
                ("MessageSid", sid),
                ("NumMedia", "0"),
                ("SmsSid", sid),
                ("To", INBOUND_TO),
            ]
            headers = b"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: %s\r\n" % (
                twilio_signature(url, params, auth_token).encode()
            )
            self._requests.append(("POST", self.path, urlencode(params).encode(), headers))
            self.sids.append(sid)
        self._cycle = cycle
        self._n = 0
        self.accepted = 0  # 2xx answers, warmup included

    def next(self) -> Request | None:
        if self._n >= len(self._requests) and (not self._cycle or not self._requests):
            return None
        req = self._requests[self._n % len(self._requests)]
        self._n += 1
        return req

    def on_ok(self, req: Request, data: bytes) -> None:
        self.accepted += 1

    @property
    def used(self) -> int:
        return self._n


class ActionFeed:
    """Round-robin over conversations; one customer address per conversation.

    ``budget`` caps actions over the whole run (None: the baseline, unbounded
    but for the duration and MAX_REQUESTS_PER_PHASE).
    """

    def __init__(self, conversation_ids: Sequence[str], budget: int | None) -> None:
        self._paths = [f"/v2/Conversations/{c}/Actions" for c in conversation_ids]
        self._bodies = [send_message_body(i) for i in range(len(conversation_ids))]
        self._budget = budget
        self._n = 0

    def extend(self, n: int) -> None:
        if self._budget is not None:
            self._budget = self._n + n

    def next(self) -> Request | None:
        if self._budget is not None and self._n >= self._budget:
            return None
        k = self._n % len(self._paths)
        self._n += 1
        return ("POST", self._paths[k], self._bodies[k])

    @property
    def used(self) -> int:
        return self._n
