"""The channel provider protocol: how the orchestrator hands a message downstream.

A provider does one thing synchronously, ``send``, and reports everything
after that asynchronously, as ``StatusReport``s given to the one entry point
``orchestrion.services.outcomes.report_status`` (a status callback route, a
poller, or, for the sandbox, its own timeline).

Rules every provider follows:

- ``send`` is idempotent on ``idempotency_key`` (the Action id): the
  dispatcher may call it again after a crash or a lease expiry, and a second
  call must return the same message SID without sending a second message.
- Failures raise ``domain.errors.ProviderError``: ``transient=True`` for what
  may work later (timeouts, 5xx, throttling), which the dispatcher retries
  with backoff; ``transient=False`` for what never will (an invalid number),
  which fails the Action at once. ``code`` is the Twilio error code when there
  is one, and the message reads well after it: ``"21211: The 'To' number ..."``.
  ``retry_after_s`` (a downstream's ``Retry-After``) makes the retry wait at
  least that long.
- A provider never touches the database; what it must keep, it keeps through
  a port the services give it (``channels.sandbox.SandboxPort``, ``SendLedger``),
  and it reports statuses through ``ProviderSetup.report``.

A new provider is a class with this ``send`` and a factory that makes it
from a ``ProviderSetup`` (an account's configuration), found by name among
the built-in ones or the ``orchestrion.providers`` entry points
(``channels.plugins``, ``docs/providers.md``): no route, dispatcher or
service changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrion.domain.channels import Channel
from orchestrion.domain.outcomes import MessageStatus, StatusReport
from orchestrion.domain.providers import ProviderConfig

__all__ = [
    "ChannelProvider",
    "MessageStatus",
    "OutboundMessage",
    "ProviderFactory",
    "ProviderSetup",
    "SendLedger",
    "SendReceipt",
    "StatusReport",
]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """Everything a provider needs to send one message."""

    account_sid: str
    action_id: str
    conversation_id: str
    channel: Channel
    from_address: str
    to_addresses: tuple[str, ...]
    text: str | None = None
    content_id: str | None = None
    variables: Mapping[str, str] | None = None
    media_urls: tuple[str, ...] | None = None
    # The request's channelSettings, untouched: provider-specific parameters.
    channel_settings: Mapping[str, Any] | None = None
    # Which dispatch attempt this is (1 = first); providers may log it.
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """The provider accepted the message: its downstream id (``SM`` + 32 hex for messages)."""

    message_sid: str


class ChannelProvider(Protocol):
    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        """Hand ``message`` downstream, once per ``idempotency_key``; raise ProviderError on failure."""
        ...


class SendLedger(Protocol):
    """Where a provider without an idempotency key downstream keeps its attempts (``services.providers``)."""

    async def begin(self, key: str) -> int | None:
        """Record that an attempt of ``key`` starts now; when an earlier attempt's outcome is unknown,
        the epoch ms it started at (the provider must look for that message before sending again)."""
        ...

    async def forget(self, key: str) -> None:
        """The provider answered that nothing was sent: the next attempt need not look."""
        ...

    async def taken(self, message_sid: str, key: str) -> bool:
        """Whether ``message_sid`` is already the message of another send than ``key``."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    """What a provider factory gets: the account's configuration and what the server knows."""

    config: ProviderConfig
    # The server's public base URL (ORCHESTRION_PUBLIC_URL), for status callback URLs; None when unset.
    public_url: str | None
    ledger: SendLedger
    # The one entry point for status reports (services.outcomes.report_status): give it each status
    # the provider learns (from its own callback route, a poller, ...), with ``idempotency_key`` set
    # to the send's key when the report may arrive before ``send`` has returned.
    report: Callable[[StatusReport], Awaitable[object]]
    # Every outbound call gives up after this long.
    timeout_s: float = 10.0
    # Twilio's REST base URL (ORCHESTRION_TWILIO_API_URL); a configuration's ``apiUrl`` option wins.
    twilio_api_url: str = "https://api.twilio.com"


# A factory raises domain.errors.InvalidInput for a configuration it cannot work with.
ProviderFactory = Callable[[ProviderSetup], ChannelProvider]
