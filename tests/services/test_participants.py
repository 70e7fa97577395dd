"""services.participants: who takes part in a conversation, at which addresses (one owner per address)."""

from __future__ import annotations

import pytest

from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.clock import to_wire
from orchestrion.domain.errors import Conflict, InvalidInput, InvalidState, NotFound
from orchestrion.domain.models import Address
from orchestrion.services import participants
from orchestrion.services.participants import ParticipantFields
from tests.send_cases import AGENT, CUSTOMER
from tests.services.world import START_MS, World

pytestmark = pytest.mark.asyncio


async def test_a_participant_is_added_as_given(world: World) -> None:
    cid = await world.conversation()
    created = await participants.create_participant(
        world.ctx,
        world.account_sid,
        cid,
        ParticipantFields(
            name="Ada",
            type="CUSTOMER",
            profile_id="mem_profile_01",
            addresses=(Address(Channel.SMS, CUSTOMER), Address(Channel.WHATSAPP, "whatsapp:+14155550199", "wa-1")),
        ),
    )
    [listed] = await world.participants(cid)
    assert listed["id"] == created.id and created.id.startswith("conv_participant_")
    assert (listed["name"], listed["type"], listed["profileId"]) == ("Ada", "CUSTOMER", "mem_profile_01")
    assert listed["addresses"] == [
        {"channel": "SMS", "address": CUSTOMER},
        {"channel": "WHATSAPP", "address": "whatsapp:+14155550199", "channelId": "wa-1"},
    ]
    assert listed["createdAt"] == listed["updatedAt"] == to_wire(START_MS)


async def test_a_participant_may_start_without_addresses(world: World) -> None:
    cid = await world.conversation()
    assert (await world.participant(cid, name="Bot"))["addresses"] == []


@pytest.mark.parametrize(
    ("channel", "address"),
    [("SMS", "4155550100"), ("VOICE", "+0155"), ("WHATSAPP", "+14155550100"), ("CHAT", " padded "), ("SMS", "")],
)
async def test_an_address_not_valid_for_its_channel_is_refused(world: World, channel: str, address: str) -> None:
    cid = await world.conversation()
    with pytest.raises(InvalidInput):
        await world.participant(cid, (channel, address))
    assert await world.participants(cid) == []


async def test_the_same_address_twice_in_one_participant_is_refused(world: World) -> None:
    cid = await world.conversation()
    with pytest.raises(InvalidInput, match="listed twice"):
        await world.participant(cid, ("SMS", CUSTOMER), ("SMS", CUSTOMER))


async def test_an_address_taken_in_the_conversation_is_a_conflict_naming_its_owner(world: World) -> None:
    cid = await world.conversation()
    owner = await world.participant(cid, ("SMS", CUSTOMER))
    with pytest.raises(Conflict) as caught:
        await world.participant(cid, ("SMS", CUSTOMER))
    assert caught.value.conflicting_id == owner["id"]
    assert len(await world.participants(cid)) == 1


async def test_the_same_address_on_another_channel_or_in_another_conversation_is_fine(world: World) -> None:
    cid = await world.conversation()
    await world.participant(cid, ("SMS", CUSTOMER))
    await world.participant(cid, ("VOICE", CUSTOMER))
    await world.participant(await world.conversation(), ("SMS", CUSTOMER))
    assert len(await world.participants(cid)) == 2


async def test_a_closed_conversations_participants_cannot_change(world: World) -> None:
    cid = await world.conversation()
    kept = await world.participant(cid, ("SMS", CUSTOMER))
    await world.set_status(cid, "CLOSED")
    with pytest.raises(InvalidState):
        await world.participant(cid, ("SMS", AGENT))
    with pytest.raises(InvalidState):
        await participants.update_participant(
            world.ctx, world.account_sid, cid, kept["id"], ParticipantFields(name="x")
        )
    with pytest.raises(InvalidState):
        await participants.remove_participant(world.ctx, world.account_sid, cid, kept["id"])
    assert await world.participants(cid) == [kept]


async def test_another_accounts_participants_are_not_found(world: World) -> None:
    cid = await world.conversation()
    kept = await world.participant(cid, ("SMS", CUSTOMER))
    intruder = ids.new_account_sid()
    with pytest.raises(NotFound):
        await participants.create_participant(world.ctx, intruder, cid, ParticipantFields())
    with pytest.raises(NotFound):
        await participants.get_participant(world.ctx, intruder, cid, kept["id"])
    with pytest.raises(NotFound):
        await participants.update_participant(world.ctx, intruder, cid, kept["id"], ParticipantFields(name="x"))
    with pytest.raises(NotFound):
        await participants.remove_participant(world.ctx, intruder, cid, kept["id"])
    assert await world.participants(cid) == [kept]


async def test_a_participant_is_only_found_in_its_own_conversation(world: World) -> None:
    kept = await world.participant(await world.conversation(), ("SMS", CUSTOMER))
    with pytest.raises(NotFound):
        await participants.get_participant(world.ctx, world.account_sid, await world.conversation(), kept["id"])


async def test_an_update_replaces_the_participant_and_clears_the_fields_left_out(world: World) -> None:
    cid = await world.conversation()
    kept = await world.participant(cid, ("SMS", CUSTOMER), type="CUSTOMER", name="Ada")
    world.clock.advance(1_000)
    changed = await participants.update_participant(
        world.ctx, world.account_sid, cid, kept["id"], ParticipantFields(addresses=(Address(Channel.SMS, AGENT),))
    )
    assert (changed.name, changed.type, changed.addresses) == (None, None, (Address(Channel.SMS, AGENT),))
    assert changed.updated_ms == START_MS + 1_000


async def test_an_update_to_an_address_another_participant_holds_is_a_conflict(world: World) -> None:
    cid = await world.conversation()
    await world.participant(cid, ("SMS", CUSTOMER))
    other = await world.participant(cid, ("SMS", AGENT))
    with pytest.raises(Conflict):
        await participants.update_participant(
            world.ctx,
            world.account_sid,
            cid,
            other["id"],
            ParticipantFields(addresses=(Address(Channel.SMS, CUSTOMER),)),
        )


async def test_a_removed_participants_addresses_are_free_again(world: World) -> None:
    cid = await world.conversation()
    gone = await world.participant(cid, ("SMS", CUSTOMER))
    await participants.remove_participant(world.ctx, world.account_sid, cid, gone["id"])
    with pytest.raises(NotFound):
        await participants.remove_participant(world.ctx, world.account_sid, cid, gone["id"])
    again = await world.participant(cid, ("SMS", CUSTOMER))
    assert await world.participants(cid) == [again]


async def test_added_updated_and_removed_are_announced_and_a_no_op_is_not(world: World) -> None:
    cid = await world.conversation(callbacks=True)
    kept = await world.participant(cid, ("SMS", CUSTOMER), name="Ada")
    address = (Address(Channel.SMS, CUSTOMER),)
    same = ParticipantFields(name="Ada", addresses=address)
    await participants.update_participant(world.ctx, world.account_sid, cid, kept["id"], same)
    renamed = await participants.update_participant(
        world.ctx, world.account_sid, cid, kept["id"], ParticipantFields(name="Ada L.", addresses=address)
    )
    await participants.remove_participant(world.ctx, world.account_sid, cid, kept["id"])
    events = await world.events(cid)
    assert [t for t, _ in events] == [
        "CONVERSATION_CREATED",
        "PARTICIPANT_ADDED",
        "PARTICIPANT_UPDATED",
        "PARTICIPANT_REMOVED",
    ]
    assert events[1][1] == kept and events[2][1]["name"] == renamed.name == "Ada L."
