"""services.actions: SEND_MESSAGE from the request to a terminal status, on a real store.

Each test drives the services directly and reads the Action, its
Communication and the sandbox inbox back as the API would show them.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from orchestrion.channels.sandbox import READ_NUMBER
from orchestrion.domain import ids
from orchestrion.domain.clock import to_wire
from orchestrion.domain.errors import InvalidInput, InvalidState, LeaseLost, NotFound
from orchestrion.services import actions, sandbox
from orchestrion.services.participants import ParticipantFields
from orchestrion.store.jobs import JobLease
from orchestrion.store.store import Store
from tests.send_cases import AGENT, CUSTOMER, INVALID_SENDS, MAGIC_FAILURES, SENT_MESSAGE_EVENTS, sms
from tests.services.world import START_MS, STEP_MS, World, command

pytestmark = pytest.mark.asyncio

SID = re.compile(r"^SM[0-9a-f]{32}$")
SLOW = {"sandbox": {"stepMs": 3_600_000}}  # this message stays queued: its Action stays PENDING


# --- Accepted, then finished


async def test_send_message_is_accepted_pending_with_nothing_related(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    assert created["id"].startswith("conv_action_")
    assert (created["type"], created["status"], created["conversationId"]) == ("SEND_MESSAGE", "PENDING", cid)
    assert created["related"] == {} and created["failureReason"] is None and "completedAt" not in created
    assert created["createdAt"] == created["updatedAt"] == to_wire(START_MS)
    assert await world.action(cid, created["id"]) == created


async def test_send_message_completes_with_its_message_sid_and_communication(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, content={"text": "Your order has shipped"})
    await world.finish()
    done = await world.action(cid, created["id"])

    assert (done["status"], done["failureReason"]) == ("COMPLETED", None)
    assert set(done["related"]) == {"messageSid", "communicationId"} and SID.match(done["related"]["messageSid"])
    assert done["createdAt"] == to_wire(START_MS) and done["completedAt"] >= done["createdAt"]
    sid = done["related"]["messageSid"]
    owners = {p["addresses"][0]["address"]: p["id"] for p in await world.participants(cid)}
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert (communication["resourceId"], communication["channelId"]) == (sid, sid)
    assert communication["accountId"] == world.account_sid
    assert communication["content"] == {"type": "TEXT", "text": "Your order has shipped"}
    assert communication["author"] == {"address": AGENT, "channel": "SMS", "participantId": owners[AGENT]}
    assert communication["recipients"] == [
        {"address": CUSTOMER, "channel": "SMS", "participantId": owners[CUSTOMER], "deliveryStatus": "DELIVERED"}
    ]
    [message] = await world.inbox(cid)
    assert (message.sid, message.idempotency_key, message.status) == (sid, created["id"], "delivered")
    assert (message.from_address, message.to_addresses, message.body) == (AGENT, [CUSTOMER], "Your order has shipped")
    assert [h["status"] for h in message.history] == ["queued", "sent", "delivered"]


async def test_message_sid_appears_while_the_action_is_still_pending(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=SLOW)
    await world.run_due()
    pending = await world.action(cid, created["id"])
    assert pending["status"] == "PENDING" and "completedAt" not in pending
    assert list(pending["related"]) == ["messageSid"] and SID.match(pending["related"]["messageSid"])
    [message] = await world.inbox(cid)
    assert (message.sid, message.status) == (pending["related"]["messageSid"], "queued")
    assert await world.communications(cid) == []


async def test_each_sandbox_step_moves_the_action_then_the_delivery_status(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    await world.run_due()  # the send: queued
    queued = await world.action(cid, created["id"])
    assert queued["status"] == "PENDING"

    await world.advance(STEP_MS)  # sent: the Action is COMPLETED, its recipient IN_PROGRESS
    sent = await world.action(cid, created["id"])
    assert sent["status"] == "COMPLETED" and sent["related"]["messageSid"] == queued["related"]["messageSid"]
    assert sent["completedAt"] == to_wire(START_MS + STEP_MS)
    communication_id = sent["related"]["communicationId"]
    [recipient] = (await world.communication(cid, communication_id))["recipients"]
    assert recipient["deliveryStatus"] == "IN_PROGRESS"

    await world.advance(STEP_MS)  # delivered: only the recipient moves
    assert await world.action(cid, created["id"]) == sent
    [recipient] = (await world.communication(cid, communication_id))["recipients"]
    assert recipient["deliveryStatus"] == "DELIVERED"
    [message] = await world.inbox(cid)
    assert [h["status"] for h in message.history] == ["queued", "sent", "delivered"]
    assert [h["at"] for h in message.history] == [START_MS, START_MS + STEP_MS, START_MS + 2 * STEP_MS]


async def test_a_zero_step_timeline_completes_in_one_run_of_the_outbox(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings={"sandbox": {"stepMs": 0}})
    await world.run_due()  # the clock never moves
    done = await world.action(cid, created["id"])
    assert done["status"] == "COMPLETED" and done["completedAt"] == to_wire(START_MS)
    [communication] = await world.communications(cid)
    assert communication["id"] == done["related"]["communicationId"]
    assert [r["deliveryStatus"] for r in communication["recipients"]] == ["DELIVERED"]
    [message] = await world.inbox(cid)
    assert [h["status"] for h in message.history] == ["queued", "sent", "delivered"]


async def test_a_zero_step_timeline_announces_each_step_as_if_applied_one_by_one(world: World) -> None:
    """The steps are applied as one change, each row written once; the events still tell every step."""
    cid = await world.conversation(callbacks=True)
    created = await world.send(cid, to=[sms(READ_NUMBER)], channel_settings={"sandbox": {"stepMs": 0}})
    await world.run_due()
    done = await world.action(cid, created["id"])
    events = await world.events(cid)
    assert [t for t, _ in events] == [*SENT_MESSAGE_EVENTS, "COMMUNICATION_UPDATED"]
    shown = [data["recipients"][0]["deliveryStatus"] for t, data in events if t.startswith("COMMUNICATION_")]
    assert shown == ["IN_PROGRESS", "DELIVERED", "READ"]
    assert events[4][1] == done and events[-1][1] == await world.communication(cid, events[3][1]["id"])
    [message] = await world.inbox(cid)
    assert message.status == "read"
    assert [h["status"] for h in message.history] == ["queued", "sent", "delivered", "read"]


async def test_a_zero_step_send_ends_its_job_with_the_action(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings={"sandbox": {"stepMs": 0}})
    dispatcher = world.dispatcher()
    assert await dispatcher.run_once() == 1
    await dispatcher.drain()
    assert (await world.action(cid, created["id"]))["status"] == "COMPLETED"
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.entries() == []


async def test_a_zero_step_send_by_a_run_that_lost_its_job_commits_nothing(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings={"sandbox": {"stepMs": 0}})
    async with world.ctx.store.write() as tx:
        [job] = await tx.jobs.claim("stalled-worker", now_ms=world.clock.now, lease_ms=1, limit=1)
    world.clock.advance(2)
    async with world.ctx.store.write() as tx:  # the lease ran out: another worker took the job
        [taken] = await tx.jobs.claim("other-worker", now_ms=world.clock.now, lease_ms=60_000, limit=1)
    handler = actions.SendHandler(world.ctx, sandbox.default_registry(world.ctx))
    with Store.fenced(JobLease.of(job, "stalled-worker")), pytest.raises(LeaseLost):
        await handler.run(job)
    assert (await world.action(cid, created["id"]))["status"] == "PENDING"
    assert await world.inbox(cid) == []
    async with world.ctx.store.read() as tx:
        assert [entry.id for entry in await tx.jobs.entries()] == [taken.id]


@pytest.mark.parametrize(("number", "code", "text"), MAGIC_FAILURES)
async def test_magic_numbers_fail_the_action_with_twilios_code_and_reason(
    world: World, number: str, code: int, text: str
) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(cid, to=[sms(number)])
    assert done["status"] == "FAILED" and "completedAt" in done
    assert done["failureReason"].startswith(f"{code}: ") and text in done["failureReason"]
    assert list(done["related"]) == ["messageSid"]
    assert await world.communications(cid) == []
    [message] = await world.inbox(cid)
    assert message.status == "failed" and message.error_code == code


async def test_magic_numbers_work_on_whatsapp_addresses(world: World) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(
        cid,
        sender={"address": "whatsapp:+14155550100", "channel": "WHATSAPP"},
        to=[{"address": "whatsapp:+15005550001", "channel": "WHATSAPP"}],
    )
    assert done["status"] == "FAILED" and done["failureReason"].startswith("21211: ")


async def test_undelivered_after_completion_marks_the_recipient_failed(world: World) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(cid, to=[sms("+15005550010")])
    assert (done["status"], done["failureReason"]) == ("COMPLETED", None)
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert [r["deliveryStatus"] for r in communication["recipients"]] == ["FAILED"]


async def test_read_receipt_moves_the_recipient_to_read(world: World) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(cid, to=[sms("+15005550011")])
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert [r["deliveryStatus"] for r in communication["recipients"]] == ["READ"]


async def test_template_without_text_is_recorded_as_a_rendering(world: World) -> None:
    cid = await world.conversation()
    content = {"contentId": "HX0123456789abcdef0123456789abcdef", "variables": {"name": "Alice", "order": "12"}}
    done = await world.send_and_finish(cid, content=content)
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert communication["content"] == {
        "type": "TEXT",
        "text": '[template HX0123456789abcdef0123456789abcdef {"name":"Alice","order":"12"}]',
    }
    [message] = await world.inbox(cid)
    assert (message.body, message.content_id, message.variables) == (None, content["contentId"], content["variables"])


async def test_channel_settings_and_media_reach_the_provider_untouched(world: World) -> None:
    cid = await world.conversation()
    settings = {"messagingServiceSid": "MG0123456789abcdef0123456789abcdef", "custom": {"a": [1, "two"]}}
    await world.send_and_finish(
        cid, content={"text": "pic", "mediaUrls": ["https://example.com/a.jpg"]}, channel_settings=settings
    )
    [message] = await world.inbox(cid)
    assert message.channel_settings == settings and message.media_urls == ["https://example.com/a.jpg"]


async def test_chat_message_goes_to_several_recipients(world: World) -> None:
    cid = await world.conversation()
    to = [{"address": name, "channel": "CHAT"} for name in ("alice", "bob", "carol")]
    done = await world.send_and_finish(cid, sender={"address": "support-bot", "channel": "CHAT"}, to=to)
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert [r["address"] for r in communication["recipients"]] == ["alice", "bob", "carol"]
    assert {r["deliveryStatus"] for r in communication["recipients"]} == {"DELIVERED"}
    assert communication["author"]["address"] == "support-bot"


async def test_a_transient_send_failure_is_retried_until_the_send_succeeds(world: World) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(cid, channel_settings={"sandbox": {"failFirstAttempts": 2}})
    assert done["status"] == "COMPLETED"
    assert len(await world.inbox(cid)) == 1 and len(await world.communications(cid)) == 1


# --- Address resolution


async def test_address_and_channel_create_an_agent_and_a_customer(world: World) -> None:
    cid = await world.conversation()
    await world.send_and_finish(cid)
    found = {(p["type"], p["name"], p["addresses"][0]["address"]) for p in await world.participants(cid)}
    assert found == {("AGENT", AGENT, AGENT), ("CUSTOMER", CUSTOMER, CUSTOMER)}  # named after their address


async def test_a_second_action_reuses_the_participants_the_first_created(world: World) -> None:
    cid = await world.conversation()
    first = await world.send_and_finish(cid)
    second = await world.send_and_finish(cid)
    assert len(await world.participants(cid)) == 2
    one, two = [await world.communication(cid, a["related"]["communicationId"]) for a in (first, second)]
    assert one["author"] == two["author"] and one["recipients"] == two["recipients"]


async def test_address_and_channel_reuse_the_participant_owning_the_address(world: World) -> None:
    cid = await world.conversation()
    dana = await world.participant(cid, ("SMS", CUSTOMER), type="CUSTOMER", name="Dana")
    done = await world.send_and_finish(cid)
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert communication["recipients"][0]["participantId"] == dana["id"]
    assert len(await world.participants(cid)) == 2  # Dana and the new agent


async def test_participant_id_and_channel_pick_that_channels_address(world: World) -> None:
    cid = await world.conversation()
    agent = await world.participant(cid, ("WHATSAPP", "whatsapp:+14155550100"), ("SMS", AGENT), type="AGENT")
    customer = await world.participant(cid, ("SMS", CUSTOMER), ("WHATSAPP", "whatsapp:+14155550199"))
    done = await world.send_and_finish(
        cid,
        sender={"participantId": agent["id"], "channel": "WHATSAPP"},
        to=[{"participantId": customer["id"], "channel": "WHATSAPP"}],
    )
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert communication["author"] == {
        "address": "whatsapp:+14155550100",
        "channel": "WHATSAPP",
        "participantId": agent["id"],
    }
    assert (communication["recipients"][0]["address"], communication["recipients"][0]["participantId"]) == (
        "whatsapp:+14155550199",
        customer["id"],
    )


async def test_participant_id_alone_uses_its_only_address(world: World) -> None:
    cid = await world.conversation()
    agent = await world.participant(cid, ("SMS", AGENT), type="AGENT")
    customer = await world.participant(cid, ("SMS", CUSTOMER), type="CUSTOMER")
    done = await world.send_and_finish(
        cid, sender={"participantId": agent["id"]}, to=[{"participantId": customer["id"]}]
    )
    communication = await world.communication(cid, done["related"]["communicationId"])
    assert (communication["author"]["address"], communication["recipients"][0]["address"]) == (AGENT, CUSTOMER)


async def _refused(world: World, cid: str, error: type[Exception] = InvalidInput, **body: Any) -> str:
    with pytest.raises(error) as caught:
        await world.send(cid, **body)
    return str(caught.value)


async def test_participant_id_alone_with_several_addresses_is_refused(world: World) -> None:
    cid = await world.conversation()
    both = await world.participant(cid, ("SMS", CUSTOMER), ("WHATSAPP", "whatsapp:+14155550199"))
    message = await _refused(world, cid, to=[{"participantId": both["id"]}])
    assert "payload.to[0]" in message and "2 addresses" in message and "channel" in message


async def test_participant_without_an_address_on_the_channel_is_refused(world: World) -> None:
    cid = await world.conversation()
    customer = await world.participant(cid, ("SMS", CUSTOMER))
    message = await _refused(world, cid, to=[{"participantId": customer["id"], "channel": "CHAT"}])
    assert "no address on channel CHAT" in message


async def test_participant_without_any_address_is_refused(world: World) -> None:
    cid = await world.conversation()
    nobody = await world.participant(cid, name="No address")
    assert "has no address" in await _refused(world, cid, to=[{"participantId": nobody["id"]}])


async def test_unknown_participant_id_is_refused_naming_it(world: World) -> None:
    cid = await world.conversation()
    unknown = "conv_participant_01jq7z8k9m0n1p2q3r4s5t6v7w"
    message = await _refused(world, cid, to=[{"participantId": unknown, "channel": "SMS"}])
    assert unknown in message and "payload.to[0]" in message


@pytest.mark.parametrize(("body", "expected"), INVALID_SENDS)
async def test_invalid_send_requests_are_refused(world: World, body: dict[str, Any], expected: str) -> None:
    cid = await world.conversation()
    assert expected in await _refused(world, cid, **body)


async def test_a_refused_request_creates_no_participant_and_no_action_job(world: World) -> None:
    cid = await world.conversation()
    await _refused(world, cid, to=[sms(CUSTOMER), sms("+14155550198")])
    await _refused(world, cid, to=[sms(CUSTOMER)], content={"text": ""})
    assert await world.participants(cid) == []
    await world.finish()
    assert await world.inbox(cid) == []


# --- Where an action may be sent, and who may read it


async def test_an_unknown_conversation_is_not_found(world: World) -> None:
    await _refused(world, "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w", NotFound)
    await _refused(world, "not-an-id", NotFound)


async def test_another_accounts_conversation_is_not_found(world: World) -> None:
    cid = await world.conversation()
    with pytest.raises(NotFound):
        await actions.create_send_message(world.ctx, ids.new_account_sid(), cid, command())
    assert await world.participants(cid) == []


async def test_a_closed_conversation_refuses_actions(world: World) -> None:
    cid = await world.conversation()
    await world.set_status(cid, "CLOSED")
    assert "CLOSED" in await _refused(world, cid, InvalidState)


async def test_an_inactive_conversation_still_takes_actions(world: World) -> None:
    cid = await world.conversation()
    await world.set_status(cid, "INACTIVE")
    assert (await world.send_and_finish(cid))["status"] == "COMPLETED"
    assert await world.status(cid) == "ACTIVE"  # its new communication brought it back


async def test_an_unknown_or_malformed_action_id_is_not_found(world: World) -> None:
    cid = await world.conversation()
    for action_id in ("conv_action_01jq7z8k9m0n1p2q3r4s5t6v7w", "not-an-id"):
        with pytest.raises(NotFound):
            await world.action(cid, action_id)


async def test_another_accounts_action_is_not_found(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=SLOW)
    with pytest.raises(NotFound):
        await actions.get_action(world.ctx, ids.new_account_sid(), cid, created["id"])


async def test_an_action_is_only_found_in_its_own_conversation(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=SLOW)
    elsewhere = await world.conversation()
    with pytest.raises(NotFound):
        await world.action(elsewhere, created["id"])


# --- Re-runs, races and the terminal rule


async def test_a_send_job_run_twice_keeps_one_message_one_sid_and_one_communication(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    async with world.ctx.store.write() as tx:  # a worker claims the job, sends, and dies before finishing it
        [job] = await tx.jobs.claim("dead-worker", now_ms=world.clock.now, lease_ms=1_000, limit=1)
    handler = actions.SendHandler(world.ctx, sandbox.default_registry(world.ctx))
    await handler.run(job)
    first = (await world.action(cid, created["id"]))["related"]["messageSid"]

    await world.finish()  # the lease runs out; the job runs again, then the timeline
    done = await world.action(cid, created["id"])
    assert done["status"] == "COMPLETED" and done["related"]["messageSid"] == first
    assert len(await world.inbox(cid)) == 1 and len(await world.communications(cid)) == 1


async def test_every_job_run_twice_changes_nothing_more(world: World) -> None:
    """At-least-once: each job's work commits, then its worker dies before the job is done, and it runs again."""
    cid = await world.conversation(callbacks=True)
    created = await world.send(cid)
    handlers = world.handlers()
    for _ in range(10):
        async with world.ctx.store.write() as tx:
            claimed = await tx.jobs.claim("dying-worker", now_ms=world.clock.now, lease_ms=1, limit=100)
        for job in claimed:
            await handlers[job.kind].run(job)
            await handlers[job.kind].run(job)
            async with world.ctx.store.write() as tx:
                await tx.jobs.complete(JobLease.of(job, "dying-worker"))
        world.clock.advance(STEP_MS)

    done = await world.action(cid, created["id"])
    assert done["status"] == "COMPLETED"
    [message] = await world.inbox(cid)
    assert [h["status"] for h in message.history] == ["queued", "sent", "delivered"]
    [communication] = await world.communications(cid)
    assert [r["deliveryStatus"] for r in communication["recipients"]] == ["DELIVERED"]
    assert [t for t, _ in await world.events(cid)] == SENT_MESSAGE_EVENTS


async def test_a_terminal_action_is_never_sent(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    assert await actions.fail_action(world.ctx, created["id"], "cancelled")
    await world.finish()
    failed = await world.action(cid, created["id"])
    assert (failed["status"], failed["failureReason"], failed["related"]) == ("FAILED", "cancelled", {})
    assert await world.inbox(cid) == []


async def test_a_completed_action_cannot_be_failed_afterwards(world: World) -> None:
    cid = await world.conversation()
    done = await world.send_and_finish(cid)
    assert not await actions.fail_action(world.ctx, done["id"], "too late")
    assert await world.action(cid, done["id"]) == done


async def test_deleting_the_conversation_ends_its_timeline_quietly(world: World) -> None:
    cid = await world.conversation()
    await world.send(cid)
    await world.run_due()  # sent to the sandbox: its steps are scheduled
    async with world.ctx.store.write() as tx:
        await tx.conversations.delete(world.account_sid, cid)
    await world.finish()
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.count() == 0


async def test_concurrent_actions_on_one_conversation_each_end_once(world: World) -> None:
    cid = await world.conversation()
    created = await asyncio.gather(*(world.send(cid) for _ in range(20)))
    await world.finish()
    done = [await world.action(cid, a["id"]) for a in created]
    assert {a["status"] for a in done} == {"COMPLETED"}
    assert len({a["related"]["messageSid"] for a in done}) == 20
    assert len(await world.communications(cid)) == 20 and len(await world.participants(cid)) == 2


# --- Status callbacks


async def test_a_sent_message_announces_its_participants_communication_action_and_delivery(world: World) -> None:
    cid = await world.conversation(callbacks=True)
    created = await world.send(cid)
    await world.finish()
    done = await world.action(cid, created["id"])
    events = await world.events(cid)
    assert [t for t, _ in events] == SENT_MESSAGE_EVENTS
    communication, action, update = events[3][1], events[4][1], events[5][1]
    assert action == done
    assert communication["id"] == done["related"]["communicationId"]
    assert communication["recipients"][0]["deliveryStatus"] == "IN_PROGRESS"
    assert update == await world.communication(cid, communication["id"])


async def test_a_failed_send_announces_the_action_failed(world: World) -> None:
    cid = await world.conversation(callbacks=True)
    done = await world.send_and_finish(cid, to=[sms("+15005550001")])
    [action] = [data for kind, data in await world.events(cid) if kind == "ACTION_UPDATED"]
    assert action == done and action["failureReason"].startswith("21211: ")


async def test_participants_given_in_advance_are_not_announced_again(world: World) -> None:
    people = (ParticipantFields(type="CUSTOMER", addresses=()),)
    cid = await world.conversation(callbacks=True, people=people)
    await world.participant(cid, ("SMS", AGENT), type="AGENT")
    await world.participant(cid, ("SMS", CUSTOMER), type="CUSTOMER")
    await world.send_and_finish(cid)
    kinds = [t for t, _ in await world.events(cid)]
    assert kinds.count("PARTICIPANT_ADDED") == 3  # the inline one and the two added by hand, none by the Action
