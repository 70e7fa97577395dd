"""services.communications: what was said in a conversation; one Communication per resourceId."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.clock import to_wire
from orchestrion.domain.errors import InvalidInput, InvalidState, NotFound
from orchestrion.domain.models import Endpoint
from orchestrion.services import communications
from orchestrion.services.communications import NewCommunication
from orchestrion.wire.communications import communication as communication_json
from tests.send_cases import AGENT, CUSTOMER
from tests.services.world import ALL, START_MS, Wire, World

pytestmark = pytest.mark.asyncio

SM1 = "SM" + "0" * 31 + "1"


def _new(text: str = "Where is my order?", **fields: Any) -> NewCommunication:
    fields.setdefault("author", Endpoint(CUSTOMER, Channel.SMS))
    fields.setdefault("recipients", (Endpoint(AGENT, Channel.SMS),))
    return NewCommunication(content={"type": "TEXT", "text": text}, **fields)


async def _record(world: World, cid: str, new: NewCommunication | None = None, account_sid: str | None = None) -> Wire:
    created = await communications.create_communication(world.ctx, account_sid or world.account_sid, cid, new or _new())
    return communication_json(created)


async def test_a_text_communication_is_recorded_as_given(world: World) -> None:
    cid = await world.conversation()
    created = await _record(world, cid, _new(channel_id=SM1, resource_id=SM1, occurred_ms=START_MS - 60_000))
    assert created["id"].startswith("conv_communication_") and created["conversationId"] == cid
    assert created["author"] == {"address": CUSTOMER, "channel": "SMS"}
    assert created["recipients"] == [{"address": AGENT, "channel": "SMS"}]
    assert created["content"] == {"type": "TEXT", "text": "Where is my order?"}
    assert (created["channelId"], created["resourceId"]) == (SM1, SM1)
    assert created["occurredAt"] == to_wire(START_MS - 60_000) and created["createdAt"] == to_wire(START_MS)
    assert await world.communication(cid, created["id"]) == created


async def test_occurred_at_defaults_to_now(world: World) -> None:
    cid = await world.conversation()
    created = await _record(world, cid)
    assert created["occurredAt"] == created["createdAt"] == to_wire(START_MS)


async def test_the_same_resource_id_returns_the_first_communication_unchanged(world: World) -> None:
    cid = await world.conversation()
    first = await _record(world, cid, _new("first", resource_id=SM1))
    world.clock.advance(1_000)
    again = await _record(world, cid, _new("second", resource_id=SM1))
    assert again == first
    assert [c["id"] for c in await world.communications(cid)] == [first["id"]]


async def test_concurrent_records_of_one_resource_id_keep_one(world: World) -> None:
    cid = await world.conversation()
    created = await asyncio.gather(*(_record(world, cid, _new(f"try {i}", resource_id=SM1)) for i in range(6)))
    assert len({c["id"] for c in created}) == 1
    assert len(await world.communications(cid)) == 1


async def test_the_same_resource_id_in_another_conversation_is_another_communication(world: World) -> None:
    first = await _record(world, await world.conversation(), _new(resource_id=SM1))
    other = await _record(world, await world.conversation(), _new(resource_id=SM1))
    assert other["id"] != first["id"]


async def test_an_address_alone_links_to_the_participant_who_holds_it(world: World) -> None:
    cid = await world.conversation()
    customer = await world.participant(cid, ("SMS", CUSTOMER))
    created = await _record(world, cid)
    assert created["author"] == {"address": CUSTOMER, "channel": "SMS", "participantId": customer["id"]}
    assert created["recipients"] == [{"address": AGENT, "channel": "SMS"}]


async def test_a_named_participant_is_kept(world: World) -> None:
    cid = await world.conversation()
    agent = await world.participant(cid, name="Agent")
    created = await _record(world, cid, _new(author=Endpoint(AGENT, Channel.SMS, agent["id"])))
    assert created["author"]["participantId"] == agent["id"]


async def test_an_unknown_participant_id_is_refused_naming_it(world: World) -> None:
    cid = await world.conversation()
    unknown = "conv_participant_01h00000000000000000000000"
    with pytest.raises(InvalidInput, match=unknown):
        await _record(world, cid, _new(author=Endpoint(CUSTOMER, Channel.SMS, unknown)))


async def test_a_participant_id_that_does_not_hold_the_address_is_refused(world: World) -> None:
    cid = await world.conversation()
    await world.participant(cid, ("SMS", CUSTOMER))
    impostor = await world.participant(cid, name="impostor")
    with pytest.raises(InvalidInput, match="belongs to participant"):
        await _record(world, cid, _new(author=Endpoint(CUSTOMER, Channel.SMS, impostor["id"])))


@pytest.mark.parametrize(
    "new",
    [
        _new(recipients=()),
        _new(author=Endpoint("not a number", Channel.SMS)),
        _new(recipients=(Endpoint("whatsapp:nope", Channel.WHATSAPP),)),
    ],
)
async def test_bad_endpoints_are_refused(world: World, new: NewCommunication) -> None:
    cid = await world.conversation()
    with pytest.raises(InvalidInput):
        await _record(world, cid, new)
    assert await world.communications(cid) == []


async def test_a_recipients_delivery_status_is_kept(world: World) -> None:
    cid = await world.conversation()
    created = await _record(world, cid, _new(recipients=(Endpoint(AGENT, Channel.SMS, delivery_status="DELIVERED"),)))
    assert created["recipients"] == [{"address": AGENT, "channel": "SMS", "deliveryStatus": "DELIVERED"}]


async def test_recording_in_a_closed_conversation_is_refused(world: World) -> None:
    cid = await world.conversation()
    await world.set_status(cid, "CLOSED")
    with pytest.raises(InvalidState, match="CLOSED"):
        await _record(world, cid)


async def test_a_replay_after_closing_returns_the_first_communication(world: World) -> None:
    cid = await world.conversation()
    first = await _record(world, cid, _new(resource_id=SM1))
    await world.set_status(cid, "CLOSED")
    assert (await _record(world, cid, _new(resource_id=SM1)))["id"] == first["id"]


async def test_a_communication_brings_an_inactive_conversation_back_to_active(world: World) -> None:
    cid = await world.conversation()
    await world.set_status(cid, "INACTIVE")
    await _record(world, cid)
    assert await world.status(cid) == "ACTIVE"


async def test_another_accounts_conversation_and_communication_are_not_found(world: World) -> None:
    cid = await world.conversation()
    created = await _record(world, cid)
    intruder = ids.new_account_sid()
    with pytest.raises(NotFound):
        await _record(world, cid, account_sid=intruder)
    with pytest.raises(NotFound):
        await communications.get_communication(world.ctx, intruder, cid, created["id"])
    with pytest.raises(NotFound):
        await communications.list_communications(world.ctx, intruder, cid, ALL)
    assert len(await world.communications(cid)) == 1


async def test_a_communication_is_only_found_in_its_own_conversation(world: World) -> None:
    created = await _record(world, await world.conversation())
    with pytest.raises(NotFound):
        await world.communication(await world.conversation(), created["id"])


async def test_communications_are_listed_in_order_and_filtered_by_channel_id(world: World) -> None:
    cid = await world.conversation()
    made = [await _record(world, cid, _new(str(i), channel_id=f"SM{i}")) for i in range(3)]
    assert [c["id"] for c in await world.communications(cid)] == [c["id"] for c in made]
    page = await communications.list_communications(world.ctx, world.account_sid, cid, ALL, channel_id="SM1")
    assert [c.id for c in page.items] == [made[1]["id"]]


async def test_recording_announces_communication_created_once(world: World) -> None:
    cid = await world.conversation(callbacks=True)
    created = await _record(world, cid, _new(resource_id=SM1))
    await _record(world, cid, _new(resource_id=SM1))
    events = await world.events(cid)
    assert [t for t, _ in events] == ["CONVERSATION_CREATED", "COMMUNICATION_CREATED"]
    assert events[1][1] == created
