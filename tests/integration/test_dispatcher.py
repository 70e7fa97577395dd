"""The outbox dispatcher with the real send and sandbox handlers, on SQLite and PostgreSQL.

Time is a test clock: leases expire and backoffs elapse when the test says so,
so nothing here depends on how fast the machine is. The database is this
module's own (``private_database_url``: the session's live server would otherwise take the jobs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
import structlog
import structlog.testing

from orchestrion.channels.base import OutboundMessage, SendReceipt
from orchestrion.channels.registry import ChannelRegistry
from orchestrion.channels.sandbox import SandboxProvider
from orchestrion.dispatch.retry import Backoff
from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain import ids
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidState, LeaseLost, NotFound, ProviderError
from orchestrion.domain.models import Action, ActionStatus, Configuration
from orchestrion.domain.outcomes import MessageStatus, StatusReport
from orchestrion.domain.sending import EndpointRef, MessageContent, SendMessageCommand
from orchestrion.runtime import Runtime
from orchestrion.services import actions, outcomes, sandbox
from orchestrion.services import jobs as jobs_service
from orchestrion.services.context import Context
from orchestrion.services.jobs import Handler
from orchestrion.store.tables import dead_jobs, jobs
from tests.builders import new_conversation
from tests.conftest import test_settings
from tests.integration.dispatch_support import ManualClock, run_until_idle

pytestmark = pytest.mark.asyncio(loop_scope="function")

START_MS = 1_900_000_000_000
LEASE_MS = 1_000
STEP_MS = 10


@dataclasses.dataclass
class World:
    ctx: Context
    clock: ManualClock
    account_sid: str
    conversation_id: str

    def dispatcher(self, handlers: dict[str, Handler], worker_id: str = "worker-a", **options: Any) -> Dispatcher:
        options.setdefault("lease_ms", LEASE_MS)
        options.setdefault("lease_clock", self.clock)
        options.setdefault("backoff", Backoff(base_ms=100, cap_ms=1_000))
        return Dispatcher(self.ctx, handlers, worker_id=worker_id, concurrency=4, **options)

    def handlers(self, registry: ChannelRegistry | None = None) -> dict[str, Handler]:
        return {
            actions.SEND_JOB: actions.SendHandler(self.ctx, registry or sandbox.default_registry(self.ctx)),
            sandbox.STEP_JOB: sandbox.StepHandler(self.ctx),
        }

    async def send(self, to: str = "+14155550199", **settings: Any) -> Action:
        command = SendMessageCommand(
            sender=EndpointRef(address="+14155550100", channel=Channel.SMS),
            to=(EndpointRef(address=to, channel=Channel.SMS),),
            content=MessageContent(text="hello"),
            channel_settings={"sandbox": settings} if settings else None,
        )
        return await actions.create_send_message(self.ctx, self.account_sid, self.conversation_id, command)

    async def action(self, action_id: str) -> Action:
        async with self.ctx.store.read() as tx:
            found = await tx.actions.get_by_id(action_id)
        assert found is not None
        return found

    async def jobs(self) -> list[Any]:
        async with self.ctx.store.read() as tx:
            return list(await tx.conn.execute(sa.select(jobs).order_by(jobs.c.id)))

    async def run_until_idle(self, dispatcher: Dispatcher) -> None:
        await run_until_idle(self.ctx, self.clock, dispatcher)

    async def count(self, table: str) -> int:
        statement = sa.text(f"SELECT count(*) FROM {table} WHERE conversation_id = :c")
        async with self.ctx.store.read() as tx:
            return int((await tx.conn.execute(statement.bindparams(c=self.conversation_id))).scalar_one())


@pytest_asyncio.fixture(loop_scope="function")
async def world(private_database_url: str) -> AsyncIterator[World]:
    runtime = Runtime.build(test_settings(private_database_url))
    clock = ManualClock(START_MS)
    ctx = Context(store=runtime.ctx.store, clock=clock, sandbox_step_ms=STEP_MS)
    account_sid = ids.new_account_sid()
    configuration = Configuration(
        id=ids.new_id(ids.CONFIGURATION),
        account_sid=account_sid,
        display_name="dispatch",
        description="",
        grouping_type="GROUP_BY_PARTICIPANT_ADDRESSES",
        memory_store_id="mem_store_test",
        settings={},
        version=1,
        created_ms=START_MS,
        updated_ms=START_MS,
    )
    conversation = new_conversation(account_sid, configuration.id, created_ms=START_MS)
    async with ctx.store.write() as tx:
        await tx.conn.execute(jobs.delete())  # what an earlier test left scheduled, or dead
        await tx.conn.execute(dead_jobs.delete())
        await tx.configurations.insert(configuration)
        await tx.conversations.insert(conversation, last_activity_ms=START_MS)
    try:
        yield World(ctx, clock, account_sid, conversation.id)
    finally:
        await ctx.store.close()


class FailingProvider:
    """A provider that fails ``failures`` times (transiently or not), then accepts."""

    def __init__(self, failures: int, *, transient: bool = True, retry_after_s: float | None = None) -> None:
        self.failures = failures
        self.transient = transient
        self.retry_after_s = retry_after_s
        self.calls: list[int] = []

    async def send(self, message: OutboundMessage, *, idempotency_key: str) -> SendReceipt:
        self.calls.append(message.attempt)
        if len(self.calls) <= self.failures:
            code = 20503 if self.transient else 21606
            raise ProviderError(
                f"{code}: provider says no", transient=self.transient, code=code, retry_after_s=self.retry_after_s
            )
        return SendReceipt("SM" + idempotency_key[-26:].rjust(32, "0"))


# --- Leases


async def test_an_expired_lease_lets_another_worker_take_the_job(world: World) -> None:
    action = await world.send()
    async with world.ctx.store.write() as tx:  # a worker claims the job, then dies
        [claimed] = await tx.jobs.claim("dead-worker", now_ms=world.clock.now, lease_ms=LEASE_MS, limit=10)
    assert claimed.kind == actions.SEND_JOB

    survivor = world.dispatcher(world.handlers(), worker_id="worker-b")
    assert await survivor.run_once() == 0  # the lease still holds
    world.clock.advance(LEASE_MS + 1)
    assert await survivor.run_once() == 1
    await survivor.drain()
    await world.run_until_idle(survivor)

    done = await world.action(action.id)
    assert done.status is ActionStatus.COMPLETED
    assert await world.count("sandbox_messages") == 1 and await world.count("communications") == 1


async def test_a_job_claimed_too_often_is_given_up(world: World) -> None:
    action = await world.send()
    async with world.ctx.store.write() as tx:
        await tx.conn.execute(jobs.update().values(attempts=8, max_attempts=8))
    dispatcher = world.dispatcher(world.handlers())
    await dispatcher.run_once()  # attempt 9 of 8: interrupted too many times
    await dispatcher.drain()
    failed = await world.action(action.id)
    assert failed.status is ActionStatus.FAILED and failed.failure_reason == "gave up after repeated interruptions"
    assert await world.jobs() == []


# --- Retries


async def test_a_transient_failure_is_retried_after_a_backoff(world: World) -> None:
    provider = FailingProvider(failures=2)
    action = await world.send()
    dispatcher = world.dispatcher(world.handlers(ChannelRegistry(provider)))

    await dispatcher.run_once()
    await dispatcher.drain()
    [job] = await world.jobs()
    assert (job.attempts, job.locked_by) == (1, None)
    assert job.last_error == "20503: provider says no"
    # The backoff (base 100 ms, jittered in [50, 100]) is kept where the lease was: it runs on real time.
    assert world.clock.now + 50 <= job.lease_until_ms <= world.clock.now + 100
    assert await dispatcher.run_once() == 0  # not before its time

    world.clock.now = job.lease_until_ms
    await dispatcher.run_once()
    await dispatcher.drain()
    [job] = await world.jobs()
    assert job.attempts == 2 and world.clock.now + 100 <= job.lease_until_ms <= world.clock.now + 200

    world.clock.now = job.lease_until_ms
    await dispatcher.run_once()
    await dispatcher.drain()
    assert provider.calls == [1, 2, 3]
    sent = await world.action(action.id)
    assert sent.status is ActionStatus.PENDING and sent.related["messageSid"].startswith("SM")
    assert await world.jobs() == []


async def test_a_providers_retry_after_delays_the_retry_up_to_the_backoff_cap(world: World) -> None:
    provider = FailingProvider(failures=2, retry_after_s=0.6)
    await world.send()
    dispatcher = world.dispatcher(world.handlers(ChannelRegistry(provider)))
    await dispatcher.run_once()
    await dispatcher.drain()
    [job] = await world.jobs()
    assert job.lease_until_ms == world.clock.now + 600  # not the backoff's 50..100 ms

    provider.retry_after_s = 3600  # more than the cap (1 s): the cap wins
    world.clock.now = job.lease_until_ms
    await dispatcher.run_once()
    await dispatcher.drain()
    [job] = await world.jobs()
    assert job.lease_until_ms == world.clock.now + 1_000


async def test_backoff_grows_exponentially_with_jitter_up_to_a_cap() -> None:
    backoff = Backoff(base_ms=100, cap_ms=1_000)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (12, 1_000)]:
        delays = {backoff.delay_ms(attempt, rng) for _ in range(50)}
        assert all(ceiling // 2 <= d <= ceiling for d in delays) and len(delays) > 1


async def test_the_last_failed_attempt_fails_the_action(world: World) -> None:
    provider = FailingProvider(failures=100)
    action = await world.send()
    async with world.ctx.store.write() as tx:
        await tx.conn.execute(jobs.update().values(max_attempts=3))
    await world.run_until_idle(world.dispatcher(world.handlers(ChannelRegistry(provider))))

    failed = await world.action(action.id)
    assert provider.calls == [1, 2, 3]
    assert failed.status is ActionStatus.FAILED
    assert failed.failure_reason == "20503: provider says no"
    assert failed.completed_ms is not None and "messageSid" not in failed.related


async def test_a_permanent_provider_error_fails_the_action_at_once(world: World) -> None:
    provider = FailingProvider(failures=1, transient=False)
    action = await world.send()
    dispatcher = world.dispatcher(world.handlers(ChannelRegistry(provider)))
    await dispatcher.run_once()
    await dispatcher.drain()
    failed = await world.action(action.id)
    assert provider.calls == [1]
    assert (failed.status, failed.failure_reason) == (ActionStatus.FAILED, "21606: provider says no")
    assert await world.jobs() == []


async def test_a_job_that_gave_up_is_kept_as_a_dead_letter_that_cannot_undo_a_failed_action(world: World) -> None:
    await world.send()
    await world.run_until_idle(world.dispatcher(world.handlers(ChannelRegistry(FailingProvider(1, transient=False)))))
    [dead] = await jobs_service.list_jobs(world.ctx, dead=True)
    assert (dead.kind, dead.attempts, dead.last_error) == (actions.SEND_JOB, 1, "21606: provider says no")
    with pytest.raises(InvalidState, match="FAILED is final: send a new Action instead"):
        await jobs_service.retry_dead_job(world.ctx, dead.id)
    assert [d.id for d in await jobs_service.list_jobs(world.ctx, dead=True)] == [dead.id]


async def test_the_sandbox_fail_first_attempts_knob_is_retried_through(world: World) -> None:
    action = await world.send(failFirstAttempts=2)
    await world.run_until_idle(world.dispatcher(world.handlers()))
    assert (await world.action(action.id)).status is ActionStatus.COMPLETED
    assert await world.count("sandbox_messages") == 1


# --- Crash windows and races


async def test_a_send_repeated_after_a_crash_keeps_one_message_and_one_sid(world: World) -> None:
    action = await world.send()
    provider = SandboxProvider(sandbox.StorePort(world.ctx), step_ms=STEP_MS)
    message = actions.outbound_message(action)
    # The provider accepted the message, then the worker died before storing its SID.
    first = await provider.send(message, idempotency_key=action.id)
    again = await provider.send(message, idempotency_key=action.id)
    assert again == first

    await world.run_until_idle(world.dispatcher(world.handlers()))
    done = await world.action(action.id)
    assert done.status is ActionStatus.COMPLETED and done.related["messageSid"] == first.message_sid
    assert await world.count("sandbox_messages") == 1 and await world.count("communications") == 1


async def test_a_status_report_that_outruns_the_stored_sid_still_finds_its_action(world: World) -> None:
    action = await world.send()
    receipt = await SandboxProvider(sandbox.StorePort(world.ctx), step_ms=STEP_MS).send(
        actions.outbound_message(action), idempotency_key=action.id
    )
    # Only the sandbox's timeline runs: the send job has not stored the SID yet.
    steps_only = world.dispatcher({sandbox.STEP_JOB: sandbox.StepHandler(world.ctx)})
    world.clock.advance(STEP_MS)
    await steps_only.run_once()
    await steps_only.drain()
    completed = await world.action(action.id)
    assert completed.status is ActionStatus.COMPLETED and completed.related["messageSid"] == receipt.message_sid

    await world.run_until_idle(world.dispatcher(world.handlers()))  # the late send job changes nothing
    assert (await world.action(action.id)).related == completed.related
    assert await world.count("sandbox_messages") == 1 and await world.count("communications") == 1


async def test_a_report_nobody_can_place_is_not_found_so_its_caller_retries(world: World) -> None:
    report = StatusReport("SM" + "0" * 32, MessageStatus.SENT)
    with pytest.raises(NotFound):
        await outcomes.report_status(world.ctx, report)
    gone = dataclasses.replace(report, idempotency_key=ids.new_id(ids.ACTION))
    assert await outcomes.report_status(world.ctx, gone) is outcomes.Applied.GONE


async def _sent(world: World) -> tuple[Action, str]:
    action = await world.send()
    sid = ids.new_message_sid()
    async with world.ctx.store.write() as tx:
        await tx.actions.update(dataclasses.replace(action, related={"messageSid": sid}))
    return action, sid


async def test_out_of_order_and_duplicate_reports_are_absorbed(world: World) -> None:
    action, sid = await _sent(world)
    delivered = StatusReport(sid, MessageStatus.DELIVERED)
    assert await outcomes.report_status(world.ctx, delivered) is outcomes.Applied.CHANGED
    assert await outcomes.report_status(world.ctx, StatusReport(sid, MessageStatus.SENT)) is outcomes.Applied.ABSORBED
    assert await outcomes.report_status(world.ctx, delivered) is outcomes.Applied.ABSORBED
    failed = StatusReport(sid, MessageStatus.FAILED, 30008, "Unknown error")
    assert await outcomes.report_status(world.ctx, failed) is outcomes.Applied.CHANGED  # delivery moves, not the Action

    done = await world.action(action.id)
    assert done.status is ActionStatus.COMPLETED and done.failure_reason is None
    async with world.ctx.store.read() as tx:
        communication = await tx.communications.get(world.conversation_id, done.related["communicationId"])
    assert communication is not None and [r.delivery_status for r in communication.recipients] == ["FAILED"]
    assert await world.count("communications") == 1


async def test_concurrent_reports_for_one_message_record_one_communication(world: World) -> None:
    action, sid = await _sent(world)
    reports = [StatusReport(sid, MessageStatus.SENT) for _ in range(8)]
    results = await asyncio.gather(*(outcomes.report_status(world.ctx, r) for r in reports))
    assert sorted(results) == sorted([outcomes.Applied.CHANGED] + [outcomes.Applied.ABSORBED] * 7)
    assert (await world.action(action.id)).status is ActionStatus.COMPLETED
    assert await world.count("communications") == 1


async def test_a_terminal_action_is_not_sent(world: World) -> None:
    provider = FailingProvider(failures=0)
    action = await world.send()
    await actions.fail_action(world.ctx, action.id, "cancelled")
    await world.run_until_idle(world.dispatcher(world.handlers(ChannelRegistry(provider))))
    assert provider.calls == []
    assert (await world.action(action.id)).failure_reason == "cancelled"


async def test_deleting_the_conversation_ends_its_timeline_quietly(world: World) -> None:
    await world.send()
    dispatcher = world.dispatcher(world.handlers())
    await dispatcher.run_once()
    await dispatcher.drain()  # sent to the sandbox; its steps are scheduled
    async with world.ctx.store.write() as tx:
        await tx.conversations.delete(world.account_sid, world.conversation_id)
    await world.run_until_idle(dispatcher)
    assert await world.jobs() == []


async def test_a_timeline_without_delay_finishes_inside_the_send(world: World) -> None:
    action = await world.send(stepMs=0)
    dispatcher = world.dispatcher(world.handlers())
    await dispatcher.run_once()
    await dispatcher.drain()

    done = await world.action(action.id)
    assert done.status is ActionStatus.COMPLETED and set(done.related) == {"messageSid", "communicationId"}
    assert await world.jobs() == []
    async with world.ctx.store.read() as tx:
        message = await tx.sandbox.get(done.related["messageSid"])
        communication = await tx.communications.get(world.conversation_id, done.related["communicationId"])
    assert message is not None and [h["status"] for h in message.history] == ["queued", "sent", "delivered"]
    assert communication is not None and [r.delivery_status for r in communication.recipients] == ["DELIVERED"]


async def test_a_step_job_run_again_after_its_commit_changes_nothing(world: World) -> None:
    action = await world.send()
    dispatcher = world.dispatcher(world.handlers())
    await dispatcher.run_once()
    await dispatcher.drain()  # sent to the sandbox: its first step is scheduled
    world.clock.advance(STEP_MS)
    [step] = await _claim(world)
    assert step.kind == sandbox.STEP_JOB
    # The step's transaction commits, then the worker dies before marking the job done;
    # the job runs again after its lease.
    await sandbox.StepHandler(world.ctx).run(step)
    await sandbox.StepHandler(world.ctx).run(step)

    async with world.ctx.store.read() as tx:
        message = await tx.sandbox.get(step.payload["sid"])
    assert message is not None and [h["status"] for h in message.history] == ["queued", "sent"]
    assert [j.kind for j in await world.jobs()] == [sandbox.STEP_JOB, sandbox.STEP_JOB]  # itself, and the next
    assert (await world.action(action.id)).status is ActionStatus.COMPLETED
    assert await world.count("communications") == 1


async def _claim(world: World) -> list[Any]:
    async with world.ctx.store.write() as tx:
        return await tx.jobs.claim("dying-worker", now_ms=world.clock.now, lease_ms=LEASE_MS, limit=1)


# --- A run's own failures


async def test_a_lease_lost_while_recording_leaves_the_job_to_its_new_owner(world: World) -> None:
    action = await world.send()
    dispatcher = world.dispatcher(world.handlers())

    async def taken_over(*_: Any) -> None:
        raise LeaseLost("another worker holds the job")

    dispatcher._record = taken_over  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logged:
        assert await dispatcher.run_once() == 1
        await dispatcher.drain()
    assert [e["event"] for e in logged if e["log_level"] in ("warning", "error")] == ["job_lease_lost"]
    assert actions.SEND_JOB in [job.kind for job in await world.jobs()]  # still there for whoever holds it
    assert (await world.action(action.id)).status is ActionStatus.PENDING


async def test_a_run_that_raises_is_logged_by_the_dispatcher_not_left_unretrieved(world: World) -> None:
    await world.send()
    dispatcher = world.dispatcher(world.handlers())

    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug in recording")

    dispatcher._record = broken  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logged:
        assert await dispatcher.run_once() == 1
        await dispatcher.drain()
        await asyncio.sleep(0)  # done callbacks run on the next turn of the loop
    [failed] = [e for e in logged if e["event"] == "job_run_failed"]
    assert (failed["log_level"], failed["kind"]) == ("error", actions.SEND_JOB)
