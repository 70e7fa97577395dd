"""Which provider sends an account's message, and the send ledger, on a real store (both backends)."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrion.channels.base import OutboundMessage
from orchestrion.channels.sandbox import SandboxProvider
from orchestrion.channels.webhook import WebhookProvider
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import ProviderError
from orchestrion.domain.models import Account
from orchestrion.domain.providers import ProviderConfig
from orchestrion.services import sandbox
from orchestrion.services.context import Context, ProviderSettings
from orchestrion.services.providers import AccountProviders, StoreLedger
from tests.services.world import START_MS, World

pytestmark = pytest.mark.asyncio

PUBLIC = ProviderSettings(public_url="https://orchestrion.example.com", refresh_s=2.0)
GATEWAY = {"url": "https://gateway.example.com/send"}
SIGNING = {"signingSecret": "s" * 32}


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _account(ctx: Context, account_sid: str) -> None:
    async with ctx.store.write() as tx:
        await tx.accounts.insert(Account(sid=account_sid, auth_token="t" * 32, created_ms=START_MS))


async def _put(ctx: Context, config: ProviderConfig) -> None:
    async with ctx.store.write() as tx:
        await tx.providers.put(config)


def _lookup(world: World, settings: ProviderSettings = PUBLIC) -> tuple[Context, AccountProviders, Monotonic]:
    ctx = dataclasses.replace(world.ctx, providers=settings)
    clock = Monotonic()
    return ctx, AccountProviders(ctx, sandbox.default_registry(ctx), monotonic=clock), clock


async def test_an_account_without_providers_sends_everything_through_the_sandbox(world: World) -> None:
    _, lookup, _ = _lookup(world)
    for channel in (Channel.SMS, Channel.WHATSAPP, Channel.RCS):
        assert isinstance(await lookup.provider_for(world.account_sid, channel), SandboxProvider)


async def test_a_provider_serves_its_channels_and_the_sandbox_the_others(world: World) -> None:
    ctx, lookup, _ = _lookup(world)
    await _account(ctx, world.account_sid)
    await _put(ctx, ProviderConfig(world.account_sid, "webhook", frozenset({Channel.RCS}), GATEWAY, SIGNING, 1))
    assert isinstance(await lookup.provider_for(world.account_sid, Channel.RCS), WebhookProvider)
    assert isinstance(await lookup.provider_for(world.account_sid, Channel.SMS), SandboxProvider)
    await lookup.aclose()


async def test_a_change_applies_once_the_processs_copy_is_older_than_the_refresh(world: World) -> None:
    ctx, lookup, clock = _lookup(world)
    await _account(ctx, world.account_sid)
    assert isinstance(await lookup.provider_for(world.account_sid, Channel.RCS), SandboxProvider)
    await _put(ctx, ProviderConfig(world.account_sid, "webhook", frozenset({Channel.RCS}), GATEWAY, SIGNING, 1))
    clock.now += 1.9
    assert isinstance(await lookup.provider_for(world.account_sid, Channel.RCS), SandboxProvider)
    clock.now += 0.2
    assert isinstance(await lookup.provider_for(world.account_sid, Channel.RCS), WebhookProvider)
    await lookup.aclose()


async def test_a_provider_that_cannot_be_built_fails_its_sends_for_good(world: World) -> None:
    ctx, lookup, _ = _lookup(world, ProviderSettings(public_url=None, refresh_s=0))
    await _account(ctx, world.account_sid)
    options = {"accountSid": "AC" + "1" * 32}
    await _put(
        ctx, ProviderConfig(world.account_sid, "twilio", frozenset({Channel.SMS}), options, {"authToken": "x"}, 1)
    )
    provider = await lookup.provider_for(world.account_sid, Channel.SMS)
    message = OutboundMessage(world.account_sid, "conv_action_x", "conv_conversation_x", Channel.SMS, "+1", ("+2",))
    with pytest.raises(ProviderError, match="ORCHESTRION_PUBLIC_URL") as raised:
        await provider.send(message, idempotency_key="conv_action_x")
    assert raised.value.transient is False


async def test_the_ledger_tells_a_retry_when_the_first_unknown_attempt_started(world: World) -> None:
    ledger = StoreLedger(world.ctx)
    key = f"conv_action_{world.account_sid.lower()}"
    assert await ledger.begin(key) is None
    world.clock.now = START_MS + 5_000
    assert await ledger.begin(key) == START_MS  # the first one's outcome is still unknown
    await ledger.forget(key)  # the provider said nothing was sent
    assert await ledger.begin(key) is None
