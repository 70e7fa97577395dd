"""Which downstream provider an account sends through, and the rules of the signed-webhook scheme.

An account may configure providers (``twilio``, ``webhook``, or a plugin's
name), each serving some channels; every channel no provider claims stays
with the built-in sandbox. One channel belongs to one provider at most.

The signed-webhook scheme (the ``webhook`` provider's requests and the status
reports its gateway sends back): ``X-Orchestrion-Timestamp`` is the Unix time
in seconds, ``X-Orchestrion-Signature`` is ``v1=`` + hex HMAC-SHA256 over
``"<timestamp>.<body>"`` with the account's provider secret. A receiver
refuses a timestamp more than ``REPLAY_WINDOW_S`` away from its clock, and a
signature it has already accepted (a replay inside the window).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from orchestrion.domain.channels import SENDABLE, Channel
from orchestrion.domain.errors import InvalidInput

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
TIMESTAMP_HEADER = "X-Orchestrion-Timestamp"
SIGNATURE_HEADER = "X-Orchestrion-Signature"
REPLAY_WINDOW_S = 300
_VERSION = "v1="


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One provider of one account: the channels it serves, its options, and its secrets (decrypted)."""

    account_sid: str
    name: str
    channels: frozenset[Channel]
    options: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    updated_ms: int = 0


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidInput(f"Provider name {name!r} must be lowercase letters, digits, '-' or '_' (at most 32)")
    return name


def parse_channels(raw: str | Iterable[str]) -> frozenset[Channel]:
    """``sms,whatsapp`` → {SMS, WHATSAPP}; every name must be a channel a message can be sent on."""
    names = [n.strip() for n in (raw.split(",") if isinstance(raw, str) else raw) if n.strip()]
    if not names:
        raise InvalidInput("Give at least one channel (e.g. sms,whatsapp)")
    found: set[Channel] = set()
    for name in names:
        try:
            channel = Channel(name.upper())
        except ValueError:
            channel = None
        if channel not in SENDABLE:
            known = ", ".join(sorted(c.lower() for c in SENDABLE))
            raise InvalidInput(f"Unknown channel {name!r}: one of {known}")
        assert channel is not None
        found.add(channel)
    return frozenset(found)


def check_channels_free(configs: Iterable[ProviderConfig], name: str, channels: frozenset[Channel]) -> None:
    """A channel is served by one provider: refuse ``channels`` if another of the account's providers has one."""
    for other in configs:
        taken = other.channels & channels
        if other.name != name and taken:
            listed = ",".join(sorted(c.lower() for c in taken))
            raise InvalidInput(f"Provider {other.name} already serves {listed}; remove it from there first")


def mask(secret: str) -> str:
    """What ``providers show`` prints of a secret: its last four characters, if it is long enough to spare them."""
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Orchestrion-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return _VERSION + mac.hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now_s: float) -> int:
    """The signed timestamp when ``signature`` is right and fresh; InvalidInput saying what is wrong otherwise."""
    if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
        raise InvalidInput(f"Missing or malformed {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    stamp = int(timestamp)
    if abs(now_s - stamp) > REPLAY_WINDOW_S:
        raise InvalidInput(f"{TIMESTAMP_HEADER} is more than {REPLAY_WINDOW_S} s away from this server's clock")
    if not hmac.compare_digest(sign(secret, stamp, body).encode(), signature.encode()):
        raise InvalidInput(f"{SIGNATURE_HEADER} does not match the body")
    return stamp


def gateway_message_sid(account_sid: str, gateway_id: str) -> str:
    """The message SID an id a gateway gave stands for: ``SM`` + 32 hex, the same for every report about it.

    A gateway's ids are its own (any length, unique only to it): hashing them
    with the account keeps them in the SID form and apart between accounts.
    """
    return "SM" + hashlib.sha256(f"{account_sid}:{gateway_id}".encode()).hexdigest()[:32]
