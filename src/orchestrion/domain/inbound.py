"""Inbound traffic as Twilio posts it: channels of addresses, and the request signature.

Twilio signs a form-encoded webhook with ``X-Twilio-Signature``: base64 of the
HMAC-SHA1, keyed with the account's auth token, of the full URL followed by
every form parameter's name and value, sorted by name (repeated names by value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrion.domain.channels import Channel

_PREFIXES = {"whatsapp:": Channel.WHATSAPP, "rcs:": Channel.RCS}


def channel_of(address: str) -> Channel:
    """The channel an address is on: ``whatsapp:...`` WhatsApp, ``rcs:...`` RCS, a bare number SMS."""
    for prefix, channel in _PREFIXES.items():
        if address.lower().startswith(prefix):
            return channel
    return Channel.SMS


def bare(address: str) -> str:
    """The address without its channel prefix: the same number on SMS, WhatsApp and RCS."""
    for prefix in _PREFIXES:
        if address.lower().startswith(prefix):
            return address[len(prefix) :]
    return address


def on_channel(channel: Channel, number: str) -> str:
    """``number`` (bare) written as an address of ``channel``."""
    if channel is Channel.WHATSAPP:
        return f"whatsapp:{number}"
    if channel is Channel.RCS:
        return f"rcs:{number}"
    return number


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio computes for a form POST of ``params`` to ``url``."""
    payload = url + "".join(name + value for name, value in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def signature_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message between a customer and one of the account's numbers.

    Inbound (the customer wrote): ``from_address`` is the customer. Outbound
    (``outbound``: sent from the account's number around the orchestrator,
    learnt from its status callback): ``from_address`` is the account's number,
    and ``delivery_status`` the recipient's.
    """

    message_sid: str
    from_address: str
    to_address: str
    body: str | None = None
    media_urls: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    outbound: bool = False
    delivery_status: str = "DELIVERED"

    @property
    def customer_address(self) -> str:
        return self.to_address if self.outbound else self.from_address

    @property
    def agent_address(self) -> str:
        return self.from_address if self.outbound else self.to_address

    @property
    def channel(self) -> Channel:
        to_channel = channel_of(self.to_address)
        return to_channel if to_channel is not Channel.SMS else channel_of(self.from_address)
