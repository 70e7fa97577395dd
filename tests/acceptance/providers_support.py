"""For the providers' acceptance tests: a server that knows its own public URL, configuring a provider, a crash."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from orchestrion.channels.base import OutboundMessage, SendReceipt
from orchestrion.channels.twilio import TwilioProvider
from orchestrion.domain.channels import Channel
from orchestrion.runtime import Runtime
from orchestrion.services import providers
from tests.acceptance.actions_support import fetch_communication, wait_for
from tests.conftest import LiveServer, free_port, test_settings


def public_server(database_url: str, **overrides: object) -> LiveServer:
    """A live server whose ORCHESTRION_PUBLIC_URL is its own loopback URL (callbacks reach it)."""
    port = free_port()
    settings = test_settings(database_url, public_url=f"http://127.0.0.1:{port}", providers_refresh_s=0, **overrides)
    return LiveServer(settings).start(port=port)


def set_provider(
    server: LiveServer,
    account_sid: str,
    name: str,
    channels: frozenset[Channel],
    options: Mapping[str, str],
    secrets: Mapping[str, str],
) -> None:
    async def run() -> None:
        runtime = Runtime.build(server.settings)
        try:
            await providers.set_provider(
                runtime.ctx, account_sid, name, channels=channels, options=options, secrets=secrets
            )
        finally:
            await runtime.ctx.store.close()

    asyncio.run(run())


def crash_after_accept(monkeypatch: pytest.MonkeyPatch, recipient: str) -> list[str]:
    """Make the twilio provider's first send to ``recipient`` crash once Twilio has accepted it.

    The run raises after the call returned and before the dispatcher could store the SID, as a
    worker killed at that point would; the SIDs so lost are listed in what this returns.
    """
    original = TwilioProvider.send
    crashed: list[str] = []

    async def crash_once(self: TwilioProvider, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        receipt = await original(self, message, idempotency_key=idempotency_key)
        if message.to_addresses == (recipient,) and not crashed:
            crashed.append(receipt.message_sid)
            raise RuntimeError("crash injected after the Messages API accepted the message")
        return receipt

    monkeypatch.setattr(TwilioProvider, "send", crash_once)
    return crashed


def wait_delivered(client: Any, conversation_id: str, communication_id: str) -> None:
    """Until every recipient of the Communication is DELIVERED (bounded, see ``wait_for``)."""

    def delivered() -> Any:
        found = fetch_communication(client, conversation_id, communication_id)
        return found if {r.get("deliveryStatus") for r in found.recipients} == {"DELIVERED"} else None

    wait_for(delivered, f"the recipients of {communication_id} to be DELIVERED")
