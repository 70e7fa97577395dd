"""services.ingestion: messages between customers and the account's numbers, captured into conversations."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.inbound import InboundMessage
from orchestrion.domain.models import Address
from orchestrion.services import conversations, ingestion
from orchestrion.services.ingestion import Ingested, SimulatedInbound, StatusCallback
from orchestrion.services.participants import ParticipantFields
from tests.send_cases import AGENT, CUSTOMER
from tests.services.world import ALL, Wire, World

pytestmark = pytest.mark.asyncio

OTHER_CUSTOMER = "+14155550177"
SLOW = {"sandbox": {"stepMs": 3_600_000}}
PREFIX = {"SMS": "", "WHATSAPP": "whatsapp:", "RCS": "rcs:"}


def rules(*channels: str, sender: str = "*", to: str = AGENT) -> dict[str, Any]:
    return {c: {"captureRules": [{"from": sender, "to": f"{PREFIX[c]}{to}" if to != "*" else "*"}]} for c in channels}


async def configure(world: World, grouping: str = "GROUP_BY_PARTICIPANT_ADDRESSES", **channel_settings: Any) -> str:
    return await world.configuration(grouping, channelSettings=channel_settings or rules("SMS"))


async def incoming(
    world: World, body: str = "hello", *, sender: str = CUSTOMER, to: str = AGENT, sid: str | None = None, **more: Any
) -> Ingested:
    message = InboundMessage(sid or ids.new_message_sid(), sender, to, body=body, **more)
    return await ingestion.ingest(world.ctx, world.account_sid, message)


async def status(world: World, sid: str, status: str, **fields: Any) -> str:
    return await ingestion.status_callback(world.ctx, world.account_sid, StatusCallback(sid, status, **fields))


async def conversations_of(world: World) -> list[Any]:
    page = await conversations.list_conversations(world.ctx, world.account_sid, ALL)
    return [view.conversation for view in page.items]


async def texts(world: World, cid: str) -> list[str]:
    return [c["content"]["text"] for c in await world.communications(cid)]


# --- Capture


async def test_a_captured_message_starts_a_conversation_with_customer_and_agent(world: World) -> None:
    configuration_id = await configure(world)
    sid = ids.new_message_sid()
    result = await incoming(world, "Where is my order?", sid=sid)
    [conversation] = await conversations_of(world)
    assert result == Ingested(True, conversation.id, result.communication_id)
    assert (conversation.configuration_id, str(conversation.status)) == (configuration_id, "ACTIVE")
    [communication] = await world.communications(conversation.id)
    owners = {p["addresses"][0]["address"]: p for p in await world.participants(conversation.id)}
    assert {a: p["type"] for a, p in owners.items()} == {CUSTOMER: "CUSTOMER", AGENT: "AGENT"}
    assert communication["id"] == result.communication_id
    assert (communication["resourceId"], communication["channelId"]) == (sid, sid)
    assert communication["content"] == {"type": "TEXT", "text": "Where is my order?"}
    assert communication["author"] == {"address": CUSTOMER, "channel": "SMS", "participantId": owners[CUSTOMER]["id"]}
    assert communication["recipients"] == [
        {"address": AGENT, "channel": "SMS", "participantId": owners[AGENT]["id"], "deliveryStatus": "DELIVERED"}
    ]


async def test_a_message_no_capture_rule_takes_is_ignored(world: World) -> None:
    await configure(world)
    assert await incoming(world, to="+18005550999") == Ingested(False)
    assert await conversations_of(world) == []


async def test_a_repeated_message_sid_is_recorded_once(world: World) -> None:
    await configure(world)
    first = await incoming(world, "once")
    again = await incoming(
        world, "once", sid=(await world.communications(first.conversation_id or ""))[0]["resourceId"]
    )
    assert again == Ingested(True, first.conversation_id, first.communication_id, duplicate=True)
    assert await texts(world, first.conversation_id or "") == ["once"]


async def test_concurrent_messages_of_a_new_group_start_one_conversation(world: World) -> None:
    await configure(world)
    await asyncio.gather(*(incoming(world, f"m{i}") for i in range(6)))
    [conversation] = await conversations_of(world)
    assert sorted(await texts(world, conversation.id)) == [f"m{i}" for i in range(6)]
    assert len(await world.participants(conversation.id)) == 2


async def test_a_message_keeps_its_media_urls(world: World) -> None:
    await configure(world)
    result = await incoming(world, "see photo", media_urls=("https://api.twilio.com/media/ME1",))
    [communication] = await world.communications(result.conversation_id or "")
    assert communication["content"] == {
        "type": "TEXT",
        "text": "see photo",
        "mediaUrls": ["https://api.twilio.com/media/ME1"],
    }


async def test_a_wildcard_rule_on_the_sender_captures_every_customer(world: World) -> None:
    await configure(world, SMS={"captureRules": [{"from": "*", "to": AGENT}]})
    await incoming(world, sender=CUSTOMER)
    await incoming(world, sender=OTHER_CUSTOMER)
    assert len(await conversations_of(world)) == 2


async def test_a_wildcard_rule_on_the_recipient_captures_one_customer_on_every_number(world: World) -> None:
    await configure(world, SMS={"captureRules": [{"from": CUSTOMER, "to": "*"}]})
    assert (await incoming(world, sender=CUSTOMER, to="+18005550123")).captured
    assert not (await incoming(world, sender=OTHER_CUSTOMER, to="+18005550123")).captured


async def test_the_more_specific_rule_of_two_configurations_captures(world: World) -> None:
    await configure(world, SMS={"captureRules": [{"from": "*", "to": AGENT}]})
    specific = await configure(world, SMS={"captureRules": [{"from": CUSTOMER, "to": AGENT}]})
    await incoming(world)
    [conversation] = await conversations_of(world)
    assert conversation.configuration_id == specific


async def test_on_a_tie_the_configuration_created_first_captures(world: World) -> None:
    first = await configure(world)
    world.clock.advance(1)
    await configure(world)
    await incoming(world)
    [conversation] = await conversations_of(world)
    assert conversation.configuration_id == first


# --- Grouping


async def test_messages_of_one_address_pair_join_one_conversation(world: World) -> None:
    await configure(world)
    await incoming(world, "one")
    await incoming(world, "two")
    [conversation] = await conversations_of(world)
    assert await texts(world, conversation.id) == ["one", "two"]


async def _one_customer_by_sms_then_whatsapp(world: World, grouping: str) -> Wire:
    """A customer writes by SMS then WhatsApp; both join one conversation: its CUSTOMER participant."""
    await configure(world, grouping, **rules("SMS", "WHATSAPP"))
    await incoming(world, "by sms")
    await incoming(world, "by whatsapp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{AGENT}")
    [conversation] = await conversations_of(world)
    assert len(await world.communications(conversation.id)) == 2
    [customer] = [p for p in await world.participants(conversation.id) if p["type"] == "CUSTOMER"]
    return customer


async def test_grouping_by_addresses_spans_sms_and_whatsapp_of_one_number(world: World) -> None:
    customer = await _one_customer_by_sms_then_whatsapp(world, "GROUP_BY_PARTICIPANT_ADDRESSES")
    assert {a["address"] for a in customer["addresses"]} == {CUSTOMER, f"whatsapp:{CUSTOMER}"}


async def test_grouping_by_addresses_spans_sms_and_rcs_of_one_number(world: World) -> None:
    await configure(world, "GROUP_BY_PARTICIPANT_ADDRESSES", **rules("SMS", "RCS"))
    await incoming(world, "by sms")
    await incoming(world, "by rcs", sender=f"rcs:{CUSTOMER}", to=f"rcs:{AGENT}")
    [conversation] = await conversations_of(world)
    assert {c["author"]["channel"] for c in await world.communications(conversation.id)} == {"SMS", "RCS"}


async def test_grouping_by_addresses_and_channel_splits_sms_from_whatsapp(world: World) -> None:
    await configure(world, "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE", **rules("SMS", "WHATSAPP"))
    await incoming(world, "by sms")
    await incoming(world, "by whatsapp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{AGENT}")
    await incoming(world, "by sms again")
    found = await conversations_of(world)
    assert sorted([len(await world.communications(c.id)) for c in found]) == [1, 2]


async def test_grouping_keeps_different_customers_apart(world: World) -> None:
    await configure(world)
    await incoming(world, sender=CUSTOMER)
    await incoming(world, sender=OTHER_CUSTOMER)
    assert len(await conversations_of(world)) == 2


async def test_a_message_reopens_an_inactive_conversation_of_its_group(world: World) -> None:
    await configure(world)
    first = await incoming(world, "first")
    await world.set_status(first.conversation_id or "", "INACTIVE")
    again = await incoming(world, "back again")
    assert again.conversation_id == first.conversation_id
    assert await world.status(first.conversation_id or "") == "ACTIVE"


async def test_a_message_after_its_conversation_closed_starts_a_new_one(world: World) -> None:
    await configure(world)
    closed = (await incoming(world, "first")).conversation_id or ""
    await world.set_status(closed, "CLOSED")
    fresh = (await incoming(world, "new topic")).conversation_id or ""
    assert fresh != closed
    assert {c.id: str(c.status) for c in await conversations_of(world)} == {closed: "CLOSED", fresh: "ACTIVE"}


async def test_a_reply_joins_the_conversation_an_action_started(world: World) -> None:
    cid = await world.conversation(await configure(world))
    await world.send_and_finish(cid)
    reply = await incoming(world, "thanks!")
    assert reply.conversation_id == cid
    assert "thanks!" in await texts(world, cid)
    assert len(await world.participants(cid)) == 2


async def test_grouping_by_profile_gives_a_customer_a_profile_across_channels(world: World) -> None:
    customer = await _one_customer_by_sms_then_whatsapp(world, "GROUP_BY_PROFILE")
    assert customer["profileId"].startswith("mem_profile_")


async def test_grouping_by_profile_follows_the_addresses_a_participant_profile_links(world: World) -> None:
    configuration_id = await configure(world, "GROUP_BY_PROFILE", **rules("SMS"))
    linked = ParticipantFields(
        type="CUSTOMER",
        profile_id="mem_profile_01jq7z8k9m0n1p2q3r4s5t6v7w",
        addresses=(Address(Channel.SMS, CUSTOMER), Address(Channel.SMS, OTHER_CUSTOMER)),
    )
    cid = await world.conversation(configuration_id, people=(linked,))
    await incoming(world, "from my work phone", sender=OTHER_CUSTOMER)
    await incoming(world, "from my own phone", sender=CUSTOMER)
    assert [c.id for c in await conversations_of(world)] == [cid]
    assert len(await world.communications(cid)) == 2


async def test_grouping_by_profile_keeps_different_customers_apart(world: World) -> None:
    await configure(world, "GROUP_BY_PROFILE", **rules("SMS"))
    await incoming(world, sender=CUSTOMER)
    await incoming(world, sender=OTHER_CUSTOMER)
    await incoming(world, sender=CUSTOMER)
    found = await conversations_of(world)
    assert sorted([len(await world.communications(c.id)) for c in found]) == [1, 2]


async def test_capture_announces_the_conversation_its_participants_and_the_communication(world: World) -> None:
    callbacks = [{"url": "https://hooks.example.com/orchestrion", "method": "POST"}]
    await world.configuration("GROUP_BY_PARTICIPANT_ADDRESSES", channelSettings=rules("SMS"), statusCallbacks=callbacks)
    result = await incoming(world)
    events = await world.events(result.conversation_id or "")
    assert [t for t, _ in events] == [
        "CONVERSATION_CREATED",
        "PARTICIPANT_ADDED",
        "PARTICIPANT_ADDED",
        "COMMUNICATION_CREATED",
    ]
    assert events[-1][1] == await world.communication(result.conversation_id or "", result.communication_id or "")


# --- Status callbacks


async def _pending(world: World) -> tuple[str, str, str]:
    cid = await world.conversation(await configure(world))
    created = await world.send(cid, channel_settings=SLOW)
    await world.run_due()
    pending = await world.action(cid, created["id"])
    return cid, created["id"], pending["related"]["messageSid"]


async def test_a_status_callback_moves_the_action_that_sent_the_message(world: World) -> None:
    cid, action_id, sid = await _pending(world)
    assert await status(world, sid, "delivered") == "applied"
    done = await world.action(cid, action_id)
    assert done["status"] == "COMPLETED"
    [communication] = await world.communications(cid)
    assert [r["deliveryStatus"] for r in communication["recipients"]] == ["DELIVERED"]
    assert communication["resourceId"] == sid


async def test_a_failed_status_callback_fails_the_action_with_its_error_code(world: World) -> None:
    cid, action_id, sid = await _pending(world)
    assert await status(world, sid, "undelivered", error_code=30003) == "applied"
    failed = await world.action(cid, action_id)
    assert failed["status"] == "FAILED" and failed["failureReason"].startswith("30003")


async def test_a_status_twilio_does_not_define_is_ignored(world: World) -> None:
    cid, action_id, sid = await _pending(world)
    assert await status(world, sid, "teleported") == "ignored"
    assert (await world.action(cid, action_id))["status"] == "PENDING"


async def test_a_status_callback_for_an_unknown_message_without_addresses_is_ignored(world: World) -> None:
    await configure(world)
    assert await status(world, ids.new_message_sid(), "delivered") == "ignored"
    assert await conversations_of(world) == []


async def test_a_message_sent_around_orchestrion_is_captured_from_its_status_callbacks(world: World) -> None:
    await configure(world, SMS={"captureRules": [{"from": AGENT, "to": "*"}, {"from": "*", "to": AGENT}]})
    sid = ids.new_message_sid()
    assert await status(world, sid, "sent", from_address=AGENT, to_address=CUSTOMER) == "captured"
    assert await status(world, sid, "delivered", from_address=AGENT, to_address=CUSTOMER) == "captured"
    await incoming(world, "replying to you")

    [conversation] = await conversations_of(world)
    outbound, reply = await world.communications(conversation.id)
    assert (outbound["resourceId"], outbound["author"]["address"], outbound["content"]["text"]) == (sid, AGENT, "")
    assert [(r["address"], r["deliveryStatus"]) for r in outbound["recipients"]] == [(CUSTOMER, "DELIVERED")]
    assert reply["author"]["address"] == CUSTOMER


async def test_a_message_sent_around_orchestrion_that_no_rule_takes_is_ignored(world: World) -> None:
    await configure(world)  # inbound only: from anyone to AGENT
    assert await status(world, ids.new_message_sid(), "sent", from_address=AGENT, to_address=CUSTOMER) == "ignored"
    assert await conversations_of(world) == []


# --- The sandbox's simulated messages


async def test_the_sandbox_simulates_an_incoming_message_on_a_channel(world: World) -> None:
    await configure(world, **rules("WHATSAPP"))
    result, sid = await ingestion.simulate_inbound(
        world.ctx,
        world.account_sid,
        SimulatedInbound(from_address=CUSTOMER, to_address=AGENT, body="hi", channel=Channel.WHATSAPP),
    )
    assert result.captured and sid.startswith("SM")
    [communication] = await world.communications(result.conversation_id or "")
    assert (communication["author"]["address"], communication["author"]["channel"]) == (
        f"whatsapp:{CUSTOMER}",
        "WHATSAPP",
    )


async def test_a_sandbox_reply_to_a_sent_message_joins_its_conversation(world: World) -> None:
    cid = await world.conversation()  # a configuration without capture rules
    done = await world.send_and_finish(cid)
    result, _ = await ingestion.simulate_inbound(
        world.ctx, world.account_sid, SimulatedInbound(in_reply_to=done["related"]["messageSid"], body="got it")
    )
    assert result.conversation_id == cid
    texts_by_author = {c["content"]["text"]: c["author"]["address"] for c in await world.communications(cid)}
    assert texts_by_author["got it"] == CUSTOMER


@pytest.mark.parametrize(
    "sim",
    [
        SimulatedInbound(to_address=AGENT),
        SimulatedInbound(from_address=CUSTOMER),
        SimulatedInbound(from_address="not a number", to_address=AGENT),
    ],
)
async def test_a_simulated_message_needs_valid_addresses(world: World, sim: SimulatedInbound) -> None:
    with pytest.raises(InvalidInput):
        await ingestion.simulate_inbound(world.ctx, world.account_sid, sim)
