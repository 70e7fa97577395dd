"""services.providers.SigningTokens: the tokens inbound messages are signed with, remembered briefly."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest

from orchestrion.domain import ids
from orchestrion.domain.models import Account
from orchestrion.services.context import Context, ProviderSettings
from orchestrion.services.providers import SigningTokens
from tests.services.test_providers import Monotonic
from tests.services.world import START_MS, World

pytestmark = pytest.mark.asyncio

OLD, NEW = "o" * 32, "n" * 32


def _signed_with(token: str) -> Callable[[Sequence[str]], bool]:
    def matches(tokens: Sequence[str]) -> bool:
        return token in tokens

    return matches


async def _tokens(world: World, auth_token: str = OLD) -> tuple[Context, SigningTokens, Monotonic]:
    ctx = dataclasses.replace(world.ctx, providers=ProviderSettings(refresh_s=2.0))
    async with ctx.store.write() as tx:
        await tx.accounts.insert(Account(sid=world.account_sid, auth_token=auth_token, created_ms=START_MS))
    clock = Monotonic()
    return ctx, SigningTokens(ctx, monotonic=clock), clock


async def _rotate(ctx: Context, account_sid: str, auth_token: str) -> None:
    async with ctx.store.write() as tx:
        await tx.accounts.set_auth_token(account_sid, auth_token)


async def test_a_second_message_within_the_refresh_reads_nothing(world: World) -> None:
    _, signing, _ = await _tokens(world)
    assert await signing.signed_by(world.account_sid, _signed_with(OLD))
    async with world.sql.window() as seen:
        assert await signing.signed_by(world.account_sid, _signed_with(OLD))
    assert seen.all == [], seen.summary()


async def test_a_new_auth_token_is_accepted_at_once(world: World) -> None:
    ctx, signing, _ = await _tokens(world)
    assert await signing.signed_by(world.account_sid, _signed_with(OLD))
    await _rotate(ctx, world.account_sid, NEW)
    assert await signing.signed_by(world.account_sid, _signed_with(NEW))


async def test_a_replaced_auth_token_stops_working_after_the_refresh(world: World) -> None:
    ctx, signing, clock = await _tokens(world)
    assert await signing.signed_by(world.account_sid, _signed_with(OLD))
    await _rotate(ctx, world.account_sid, NEW)
    clock.now += 1.0
    assert await signing.signed_by(world.account_sid, _signed_with(OLD))
    clock.now += 1.5
    assert not await signing.signed_by(world.account_sid, _signed_with(OLD))


async def test_an_unknown_account_signs_nothing_and_is_read_every_time(world: World) -> None:
    _, signing, _ = await _tokens(world)
    unknown = ids.new_account_sid()
    assert not await signing.signed_by(unknown, lambda tokens: True)
    async with world.sql.window() as seen:
        assert not await signing.signed_by(unknown, lambda tokens: True)
    assert seen.statements, "an unknown account is looked up again"
