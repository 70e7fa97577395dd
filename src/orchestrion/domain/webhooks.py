"""Status callbacks: the events, where they go, and which addresses a public deployment refuses.

Pure rules only: the HTTP client, the signing and the delivery log live in
``orchestrion.webhooks``, ``services.events`` and ``services.webhooks``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from orchestrion.domain.models import Conversation, effective_status_callbacks

DELIVERY = "webhook_delivery"  # id prefix of a delivery (one event to one callback URL)


class EventType(StrEnum):
    CONVERSATION_CREATED = "CONVERSATION_CREATED"
    CONVERSATION_UPDATED = "CONVERSATION_UPDATED"
    PARTICIPANT_ADDED = "PARTICIPANT_ADDED"
    PARTICIPANT_UPDATED = "PARTICIPANT_UPDATED"
    PARTICIPANT_REMOVED = "PARTICIPANT_REMOVED"
    COMMUNICATION_CREATED = "COMMUNICATION_CREATED"
    COMMUNICATION_UPDATED = "COMMUNICATION_UPDATED"
    ACTION_UPDATED = "ACTION_UPDATED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # queued or being retried
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    FAILED = "FAILED"  # refused (4xx, a refused address) or out of attempts / time


@dataclass(frozen=True, slots=True)
class Callback:
    url: str
    method: str  # "POST" | "GET"


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One try at delivering an event. ``status_code`` None: no HTTP answer (see ``error``)."""

    number: int
    request_id: str | None
    started_ms: int | None
    status_code: int | None
    latency_ms: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event on its way to one callback URL; ``body`` is the exact envelope sent (UTF-8 JSON)."""

    id: str
    account_sid: str
    conversation_id: str
    event_type: EventType
    url: str
    method: str
    body: str
    status: DeliveryStatus
    attempts: int
    failure_reason: str | None
    created_ms: int
    updated_ms: int
    completed_ms: int | None


def effective_callbacks(conversation: Conversation) -> list[Callback]:
    """Where this conversation's events go: its own list when it has one (even empty), else its configuration's.

    The same URL and method listed twice is called once.
    """
    out: list[Callback] = []
    for item in effective_status_callbacks(conversation):
        url = item.get("url")
        if not isinstance(url, str) or not url:
            continue
        callback = Callback(url=url, method=str(item.get("method") or "POST").upper())
        if callback not in out:
            out.append(callback)
    return out


def ordering_key(conversation_id: str, callback: Callback) -> str:
    """The outbox ordering key: one stream per conversation and callback URL.

    Events of one conversation reach one receiver in the order they happened;
    a slow receiver delays only its own stream.
    """
    digest = hashlib.sha256(f"{callback.method} {callback.url}".encode()).hexdigest()[:16]
    return f"webhook:{conversation_id}:{digest}"


# --- Which destinations a public deployment refuses (ORCHESTRION_WEBHOOK_PUBLIC_ONLY).

_LOCAL_NAMES = ("localhost", "localhost.localdomain")


def address_refusal(address: str) -> str | None:
    """Why a public deployment must not call this IP address, or None when it is a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_private or ip.is_link_local or ip.is_unspecified or ip.is_reserved or ip.is_multicast:
        return f"{ip} is a private or reserved address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def url_refusal(url: str, *, public_only: bool) -> str | None:
    """Why ``url`` cannot be a callback, judging by its text alone (no DNS); None when it can.

    Any deployment takes absolute http and https URLs. A public one (``public_only``)
    takes https only, and no host that names a loopback, private or reserved address.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not an absolute http or https URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http or https URL"
    if not public_only:
        return None
    if parts.scheme != "https":
        return "must use https (this server only calls public https endpoints)"
    host = parts.hostname.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return f"names a local host ({host}): this server only calls public addresses"
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a name: its addresses are checked when it is resolved
    reason = address_refusal(host)
    return None if reason is None else f"points at a non-public address ({reason})"
