"""Listing conversations newest first, filtered by configuration and participant address (the console's list).

On SQLite and PostgreSQL, through services.conversations.list_conversations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.domain.channels import Channel
from orchestrion.domain.models import Address, ConversationStatus
from orchestrion.services import conversations, participants
from orchestrion.services.conversations import ConversationChange
from orchestrion.store.paging import PageRequest
from orchestrion.store.store import Store
from tests.builders import new_configuration
from tests.integration.console_support import World, world_on

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    async for w in world_on(store):
        yield w


async def _ids(world: World, page: PageRequest, **filters: object) -> tuple[list[str], bool, bool]:
    found = await conversations.list_conversations(world.ctx, world.account_sid, page, **filters)  # type: ignore[arg-type]
    return [v.conversation.id for v in found.items], found.more_after, found.more_before


async def test_newest_first_pages_forwards_and_back(world: World) -> None:
    made = [await world.conversation(f"c{n}") for n in range(5)]
    newest = list(reversed(made))
    first = await _ids(world, PageRequest(2, newest_first=True))
    assert first == (newest[:2], True, False)
    second = await _ids(world, PageRequest(2, after=newest[1], newest_first=True))
    assert second == (newest[2:4], True, True)
    last = await _ids(world, PageRequest(2, after=newest[3], newest_first=True))
    assert last == (newest[4:], False, True)
    back = await _ids(world, PageRequest(2, before=newest[2], newest_first=True))
    assert back == (newest[:2], True, False)


async def test_the_configuration_filter_keeps_its_conversations_only(world: World) -> None:
    ours = await world.conversation()
    other = new_configuration(world.account_sid)
    async with world.ctx.store.write() as tx:
        await tx.configurations.insert(other)
    world.configuration_id = other.id
    theirs = await world.conversation()
    assert (await _ids(world, PageRequest(10, newest_first=True), configuration_id=other.id))[0] == [theirs]
    assert ours not in (await _ids(world, PageRequest(10, newest_first=True), configuration_id=other.id))[0]


async def test_a_phone_number_finds_its_conversations_on_any_number_channel(world: World) -> None:
    on_sms = await world.conversation()
    await world.add_participant(on_sms, "+14155550123")
    on_whatsapp = await world.conversation()
    fields = participants.ParticipantFields(addresses=(Address(Channel.WHATSAPP, "whatsapp:+14155550123"),))
    await participants.create_participant(world.ctx, world.account_sid, on_whatsapp, fields)
    elsewhere = await world.conversation()
    await world.add_participant(elsewhere, "+14155550999")
    found = (await _ids(world, PageRequest(10, newest_first=True), address="+14155550123"))[0]
    assert found == [on_whatsapp, on_sms]
    also = (await _ids(world, PageRequest(10, newest_first=True), address="whatsapp:+14155550123"))[0]
    assert also == [on_whatsapp, on_sms]


async def test_filters_combine_with_the_status(world: World) -> None:
    open_one = await world.conversation()
    closed_one = await world.conversation()
    for conversation_id in (open_one, closed_one):
        await world.add_participant(conversation_id, "+14155550124")
    await conversations.update_conversation(
        world.ctx, world.account_sid, closed_one, ConversationChange(status=ConversationStatus.CLOSED)
    )
    found = await _ids(
        world,
        PageRequest(10, newest_first=True),
        statuses=[ConversationStatus.CLOSED],
        address="+14155550124",
        configuration_id=world.configuration_id,
    )
    assert found[0] == [closed_one]
