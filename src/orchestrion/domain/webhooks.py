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


# --- Which destinations are refused: always link-local and cloud metadata; in a public deployment
# (ORCHESTRION_WEBHOOK_PUBLIC_ONLY) also plain http and anything not public. One copy of the rule,
# applied to the URL's text when a callback is configured and to every resolved address before a delivery.

_LOCAL_NAMES = ("localhost", "localhost.localdomain")
# Names of instance-metadata services (they resolve to the addresses below inside their clouds).
_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
# Never called, whatever the mode: link-local ranges (169.254.169.254 serves the metadata of AWS, GCP,
# Azure, OpenStack and more) and the metadata or platform endpoints some clouds put elsewhere.
_NEVER = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # IPv4 link-local
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # AWS instance metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata
        "168.63.129.16/32",  # Azure platform (wire server)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 0xFFFF):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _parse(address: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None


def _never_called(ip: IPAddress) -> bool:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        candidates.append(embedded)
    return any(c in network for c in candidates for network in _NEVER if c.version == network.version)


def address_refusal(address: str, *, public_only: bool) -> str | None:
    """Why this server must not call this IP address, or None when it may."""
    ip = _parse(address)
    if ip is None:
        return f"{address} is not an IP address"
    if _never_called(ip):
        return f"{address.split('%', 1)[0]} is a link-local or cloud metadata address"
    if not public_only:
        return None
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

    Any deployment takes absolute http and https URLs, except to link-local and cloud
    metadata addresses and names. A public one (``public_only``) takes https only, and no
    host that names a loopback, private or reserved address.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "is not an absolute http or https URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http or https URL"
    host = parts.hostname.rstrip(".").lower()
    if host in _METADATA_NAMES:
        return f"names a cloud metadata service ({host}): this server never calls it"
    if public_only and parts.scheme != "https":
        return "must use https (this server only calls public https endpoints)"
    if public_only and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        return f"names a local host ({host}): this server only calls public addresses"
    if _parse(host) is None:
        return None  # a name: its addresses are checked when it is resolved
    reason = address_refusal(host, public_only=public_only)
    return None if reason is None else f"points at a {'non-public' if public_only else 'refused'} address ({reason})"
