"""Change signatures of live console pages (services.changes), on SQLite and PostgreSQL.

Each test makes one kind of change and checks that the signature moved; the
first checks that it does not move when nothing happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.domain.errors import NotFound
from orchestrion.services import changes, participants, sandbox
from orchestrion.store.store import Store
from tests.integration.console_support import World, world_on

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    async for w in world_on(store):
        yield w


async def _signature(world: World, conversation_id: str) -> str:
    return (await changes.conversation(world.ctx, world.account_sid, conversation_id)).value


async def test_the_signature_stays_while_nothing_changes(world: World) -> None:
    conversation_id = await world.conversation()
    await world.settle()
    assert await _signature(world, conversation_id) == await _signature(world, conversation_id)


async def test_a_new_action_changes_the_signature(world: World) -> None:
    conversation_id = await world.conversation()
    await world.settle()
    before = await _signature(world, conversation_id)
    await world.send(conversation_id)
    assert await _signature(world, conversation_id) != before


async def test_an_action_completing_changes_the_signature(world: World) -> None:
    conversation_id = await world.conversation()
    action = await world.send(conversation_id)
    pending = await _signature(world, conversation_id)
    world.clock.advance(1)
    await world.settle()
    async with world.ctx.store.read() as tx:
        done = await tx.actions.get_by_id(action.id)
    assert done is not None and done.status == "COMPLETED"
    assert await _signature(world, conversation_id) != pending


async def test_a_removed_participant_changes_the_signature(world: World) -> None:
    conversation_id = await world.conversation()
    participant_id = await world.add_participant(conversation_id, "+14155550190")
    before = await _signature(world, conversation_id)
    await participants.remove_participant(world.ctx, world.account_sid, conversation_id, participant_id)
    assert await _signature(world, conversation_id) != before


async def test_a_webhook_attempt_changes_the_signature(world: World) -> None:
    conversation_id = await world.conversation()
    before = await _signature(world, conversation_id)
    world.clock.advance(1)
    await world.settle()  # the CONVERSATION_CREATED callback is delivered
    assert await _signature(world, conversation_id) != before


async def test_a_change_within_the_same_millisecond_keeps_the_page_drawing_until_settled(world: World) -> None:
    conversation_id = await world.conversation()
    before = await changes.conversation(world.ctx, world.account_sid, conversation_id)
    await world.settle()  # delivered at the very millisecond it was created: the sums cannot see it
    after = await changes.conversation(world.ctx, world.account_sid, conversation_id)
    assert not after.settled(world.clock.now)  # so the page is drawn again on every poll for now
    assert after.settled(world.clock.now + changes.SETTLE_MS + 1)
    assert after.value == before.value


async def test_another_accounts_conversation_has_no_signature(world: World) -> None:
    conversation_id = await world.conversation()
    with pytest.raises(NotFound):
        await changes.conversation(world.ctx, "AC" + "1" * 32, conversation_id)


async def test_the_inbox_signature_follows_messages_and_clearing(world: World) -> None:
    empty = (await changes.sandbox(world.ctx, world.account_sid)).value
    conversation_id = await world.conversation()
    await world.send(conversation_id)
    await world.settle()
    full = (await changes.sandbox(world.ctx, world.account_sid)).value
    assert full != empty
    await sandbox.clear_messages(world.ctx, world.account_sid)
    assert (await changes.sandbox(world.ctx, world.account_sid)).value == empty
