"""services.outcomes: provider status reports move Actions and their Communications, never backwards.

Each test sends a message whose sandbox timeline stays put (a one-hour step),
so the only reports are the ones the test makes, as a provider would.
"""

from __future__ import annotations

import asyncio

import pytest

from orchestrion.domain import ids
from orchestrion.domain.errors import NotFound
from orchestrion.domain.models import Action
from orchestrion.domain.outcomes import MessageStatus, StatusReport
from orchestrion.services import actions, outcomes
from orchestrion.services.outcomes import Applied
from tests.services.world import Wire, World

pytestmark = pytest.mark.asyncio

SLOW = {"sandbox": {"stepMs": 3_600_000}}


async def _sent(world: World, *, callbacks: bool = False) -> tuple[str, Wire, str]:
    """A conversation, and an Action PENDING with its message SID (the provider took the message)."""
    cid = await world.conversation(callbacks=callbacks)
    created = await world.send(cid, channel_settings=SLOW)
    await world.run_due()
    pending = await world.action(cid, created["id"])
    assert pending["status"] == "PENDING"
    return cid, pending, pending["related"]["messageSid"]


async def _report(world: World, sid: str, status: MessageStatus, **fields: object) -> Applied:
    return await outcomes.report_status(world.ctx, StatusReport(sid, status, **fields))  # type: ignore[arg-type]


async def _delivery(world: World, cid: str, action: Wire) -> list[str]:
    communication = await world.communication(cid, action["related"]["communicationId"])
    return [r["deliveryStatus"] for r in communication["recipients"]]


async def test_queued_changes_nothing(world: World) -> None:
    cid, pending, sid = await _sent(world)
    assert await _report(world, sid, MessageStatus.QUEUED) is Applied.ABSORBED
    assert await world.action(cid, pending["id"]) == pending


@pytest.mark.parametrize(
    ("status", "delivery"),
    [(MessageStatus.SENT, "IN_PROGRESS"), (MessageStatus.DELIVERED, "DELIVERED"), (MessageStatus.READ, "READ")],
)
async def test_a_first_success_completes_the_action_with_one_communication(
    world: World, status: MessageStatus, delivery: str
) -> None:
    cid, pending, sid = await _sent(world)
    world.clock.advance(5)
    assert await _report(world, sid, status) is Applied.CHANGED
    done = await world.action(cid, pending["id"])
    assert done["status"] == "COMPLETED" and done["updatedAt"] == done["completedAt"]
    assert done["related"]["messageSid"] == sid
    [communication] = await world.communications(cid)
    assert communication["id"] == done["related"]["communicationId"]
    assert communication["resourceId"] == communication["channelId"] == sid
    assert await _delivery(world, cid, done) == [delivery]


@pytest.mark.parametrize("status", [MessageStatus.FAILED, MessageStatus.UNDELIVERED])
async def test_a_failure_fails_the_pending_action_with_code_and_text(world: World, status: MessageStatus) -> None:
    cid, pending, sid = await _sent(world)
    assert await _report(world, sid, status, error_code=30007, error_message="Carrier violation") is Applied.CHANGED
    failed = await world.action(cid, pending["id"])
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "30007: Carrier violation")
    assert "completedAt" in failed and list(failed["related"]) == ["messageSid"]
    assert await world.communications(cid) == []


async def test_a_failure_without_a_text_still_reads_well(world: World) -> None:
    cid, pending, sid = await _sent(world)
    await _report(world, sid, MessageStatus.UNDELIVERED)
    assert (await world.action(cid, pending["id"]))["failureReason"] == "The message was undelivered"


async def test_out_of_order_and_duplicate_reports_are_absorbed(world: World) -> None:
    cid, pending, sid = await _sent(world)
    assert await _report(world, sid, MessageStatus.DELIVERED) is Applied.CHANGED
    done = await world.action(cid, pending["id"])
    assert await _report(world, sid, MessageStatus.SENT) is Applied.ABSORBED  # late
    assert await _report(world, sid, MessageStatus.DELIVERED) is Applied.ABSORBED  # duplicate
    assert await _report(world, sid, MessageStatus.QUEUED) is Applied.ABSORBED
    assert await world.action(cid, pending["id"]) == done
    assert await _delivery(world, cid, done) == ["DELIVERED"]
    assert len(await world.communications(cid)) == 1


async def test_after_completion_only_the_delivery_status_moves_and_only_forward(world: World) -> None:
    cid, pending, sid = await _sent(world)
    await _report(world, sid, MessageStatus.SENT)
    done = await world.action(cid, pending["id"])
    assert await _report(world, sid, MessageStatus.READ) is Applied.CHANGED
    assert await _delivery(world, cid, done) == ["READ"]
    assert await _report(world, sid, MessageStatus.DELIVERED) is Applied.ABSORBED
    assert await _delivery(world, cid, done) == ["READ"]
    assert await world.action(cid, pending["id"]) == done


async def test_a_failure_after_completion_fails_the_delivery_not_the_action(world: World) -> None:
    cid, pending, sid = await _sent(world)
    await _report(world, sid, MessageStatus.SENT)
    done = await world.action(cid, pending["id"])
    assert await _report(world, sid, MessageStatus.FAILED, error_code=30008) is Applied.CHANGED
    assert await world.action(cid, pending["id"]) == done  # COMPLETED is final
    assert await _delivery(world, cid, done) == ["FAILED"]


async def test_a_failed_action_is_final(world: World) -> None:
    cid, pending, sid = await _sent(world)
    await _report(world, sid, MessageStatus.FAILED, error_code=21211, error_message="Invalid 'To'")
    failed = await world.action(cid, pending["id"])
    for status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED):
        assert await _report(world, sid, status) is Applied.ABSORBED
    assert await world.action(cid, pending["id"]) == failed
    assert await world.communications(cid) == []


async def test_concurrent_reports_for_one_message_record_one_communication(world: World) -> None:
    cid, pending, sid = await _sent(world)
    results = await asyncio.gather(*(_report(world, sid, MessageStatus.SENT) for _ in range(8)))
    assert sorted(results) == sorted([Applied.CHANGED] + [Applied.ABSORBED] * 7)
    assert (await world.action(cid, pending["id"]))["status"] == "COMPLETED"
    assert len(await world.communications(cid)) == 1


async def test_a_report_that_outruns_the_stored_sid_finds_its_action_by_its_key(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid, channel_settings=SLOW)  # not sent yet: no SID stored
    sid = ids.new_message_sid()
    report = StatusReport(sid, MessageStatus.SENT, idempotency_key=created["id"])
    assert await outcomes.report_status(world.ctx, report) is Applied.CHANGED
    done = await world.action(cid, created["id"])
    assert done["status"] == "COMPLETED" and done["related"]["messageSid"] == sid


async def test_a_report_about_another_message_of_a_sent_action_is_absorbed(world: World) -> None:
    cid, pending, _ = await _sent(world)
    other = StatusReport(ids.new_message_sid(), MessageStatus.FAILED, idempotency_key=pending["id"])
    assert await outcomes.report_status(world.ctx, other) is Applied.ABSORBED
    assert await world.action(cid, pending["id"]) == pending


async def test_a_report_nobody_can_place_is_not_found_so_its_caller_retries(world: World) -> None:
    with pytest.raises(NotFound):
        await _report(world, ids.new_message_sid(), MessageStatus.SENT)


async def test_a_report_for_a_deleted_action_is_gone(world: World) -> None:
    report = StatusReport(ids.new_message_sid(), MessageStatus.SENT, idempotency_key=ids.new_id(ids.ACTION))
    assert await outcomes.report_status(world.ctx, report) is Applied.GONE


async def test_each_move_is_announced_once(world: World) -> None:
    cid, pending, sid = await _sent(world, callbacks=True)
    before = len(await world.events(cid))
    await _report(world, sid, MessageStatus.SENT)
    await _report(world, sid, MessageStatus.SENT)  # duplicate: nothing to announce
    await _report(world, sid, MessageStatus.DELIVERED)
    moves = (await world.events(cid))[before:]
    assert [t for t, _ in moves] == ["COMMUNICATION_CREATED", "ACTION_UPDATED", "COMMUNICATION_UPDATED"]
    assert moves[1][1] == await world.action(cid, pending["id"])
    assert moves[2][1]["recipients"][0]["deliveryStatus"] == "DELIVERED"


NOW = {"sandbox": {"stepMs": 0}}


async def _stale_copy(world: World, cid: str) -> tuple[str, Action]:
    """A PENDING Action as its send read it, then FAILED in the store behind the send's back."""
    created = await world.send(cid, channel_settings=NOW)
    async with world.ctx.store.read() as tx:
        stale = await tx.actions.get_by_id(created["id"])
    assert stale is not None
    world.clock.advance(5)
    assert await actions.fail_action(world.ctx, stale.id, "timed out")
    return created["id"], stale


async def test_a_report_made_while_sending_writes_nothing_when_the_action_changed_since_the_send_read_it(
    world: World,
) -> None:
    cid = await world.conversation()
    action_id, stale = await _stale_copy(world, cid)
    report = StatusReport("SM" + "0" * 32, MessageStatus.DELIVERED, idempotency_key=action_id)
    with outcomes.sending(stale), pytest.raises(outcomes.ActionChanged):
        await outcomes.report_status(world.ctx, report)
    failed = await world.action(cid, action_id)
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "timed out")
    assert await world.communications(cid) == []


async def test_a_send_that_started_from_an_action_finished_meanwhile_keeps_no_message_and_completes_nothing(
    world: World,
) -> None:
    cid = await world.conversation()
    action_id, stale = await _stale_copy(world, cid)
    async with world.ctx.store.read() as tx:
        [job] = await tx.jobs.entries()
    world.ctx.fresh.put(job.id, stale)  # as if the job had been handed off with the Action it created
    await world.run_due()
    failed = await world.action(cid, action_id)
    assert (failed["status"], failed["failureReason"]) == ("FAILED", "timed out")
    assert await world.communications(cid) == []
    assert await world.inbox(cid) == []  # the send's transaction rolled back with its message
    async with world.ctx.store.read() as tx:
        assert await tx.jobs.entries() == []  # and its job ended


async def test_a_task_the_send_starts_reads_the_action_the_locked_way(world: World) -> None:
    cid = await world.conversation()
    action_id, stale = await _stale_copy(world, cid)
    report = StatusReport("SM" + "1" * 32, MessageStatus.DELIVERED, idempotency_key=action_id)
    with outcomes.sending(stale):  # a provider reporting from a task of its own, as a plugin may
        applied = await asyncio.create_task(outcomes.report_status(world.ctx, report))
    assert applied is Applied.ABSORBED  # the stored Action, FAILED: not the send's stale copy
