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
- A provider never touches the database; what it must keep, it keeps through
  a port the services give it (see ``channels.sandbox.SandboxPort``).

A new provider is a class with this ``send``, registered for its channels in
``channels.registry.ChannelRegistry``: no route, dispatcher or service changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from orchestrion.domain.channels import Channel
from orchestrion.domain.outcomes import MessageStatus, StatusReport

__all__ = ["ChannelProvider", "MessageStatus", "OutboundMessage", "SendReceipt", "StatusReport"]


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
