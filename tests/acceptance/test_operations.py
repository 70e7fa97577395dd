"""Operations: the status resource, and how an operation runs, fails and survives a second run.

The tests that need to see an operation before it runs use a server of their
own with no worker, on a database of its own (the session's server would
otherwise take the jobs), and run the queued jobs themselves, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain.models import ConversationStatus, Job, Json, Operation, OperationStatus
from orchestrion.runtime import Runtime
from orchestrion.services import configurations, operations
from orchestrion.services.context import Context
from orchestrion.services.jobs import build_handlers
from orchestrion.store.idempotency import StoredResponse
from orchestrion.store.migrate import upgrade
from orchestrion.store.store import Tx
from tests.acceptance.test_configurations import (
    add_conversation,
    completed,
    create_request,
    header,
    operation_id_of,
    patch_request,
)
from tests.conftest import LiveServer, new_account, postgres_database, sdk_client, test_settings

# --- the status resource, on the session's server


def test_completed_operation_has_the_documented_shape(client: Client) -> None:
    response = client.conversations.v2.configurations.create_with_http_info(
        create_configuration_request=create_request()
    )
    op = completed(client, response.data)
    assert op.operation_id == header(response, "Operation-Id")
    assert op.status_url == header(response, "Location") == response.data.status_url
    assert op.related == response.data.related
    assert op.created_at is not None and op.completed_at is not None
    assert op.created_at <= op.completed_at
    assert op.error is None


def test_operation_of_another_account_is_404(client: Client, other_client: Client) -> None:
    accepted = client.conversations.v2.configurations.create(create_configuration_request=create_request())
    with pytest.raises(TwilioRestException) as raised:
        other_client.conversations.v2.operations(operation_id_of(accepted)).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


@pytest.mark.parametrize("operation_id", ["proc_job_0" + "0" * 25, "nope"])
def test_unknown_operation_is_404(client: Client, operation_id: str) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.operations(operation_id).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


# --- a server whose operations wait until the test runs them


@dataclass
class Paused:
    url: str
    server: LiveServer
    client: Client
    account_sid: str

    def run(self, work: Any) -> Any:
        """Run ``work(ctx)`` against this server's database, in a runtime of its own."""

        async def go() -> Any:
            runtime = Runtime.build(test_settings(self.url))
            try:
                return await work(runtime.ctx)
            finally:
                await runtime.ctx.store.close()

        return asyncio.run(go())

    def run_jobs(self) -> int:
        """Run every queued job, one at a time, oldest first; how many ran."""

        async def work(ctx: Context) -> int:
            dispatcher = Dispatcher(ctx, build_handlers(ctx), worker_id="test-worker", concurrency=1)
            total = 0
            while claimed := await dispatcher.run_once():
                total += claimed
                await dispatcher.drain()
            return total

        ran: int = self.run(work)
        return ran

    def status(self, operation_id: str) -> Any:
        return self.client.conversations.v2.operations(operation_id).fetch()


def _fresh_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('paused') / 'paused.db'}"
        upgrade(url)
        yield url
        return
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def paused_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LiveServer]]:
    for url in _fresh_database(database_url, tmp_path_factory):
        live = LiveServer(test_settings(url)).start(run_worker=False)
        try:
            yield url, live
        finally:
            live.stop()


@pytest.fixture
def paused(paused_server: tuple[str, LiveServer]) -> Paused:
    url, live = paused_server
    creds = new_account(url)
    paused = Paused(url, live, sdk_client(live, creds), creds.account_sid)  # type: ignore[arg-type]
    paused.run_jobs()  # nothing left over from an earlier test
    return paused


def _create(paused: Paused, **fields: Any) -> str:
    accepted = paused.client.conversations.v2.configurations.create(
        create_configuration_request=create_request(**fields)
    )
    return operation_id_of(accepted)


def test_operation_is_pending_until_a_worker_runs_it(paused: Paused) -> None:
    operation_id = _create(paused)
    op = paused.status(operation_id)
    assert (op.status, op.completed_at, op.error) == ("PENDING", None, None)
    assert paused.run_jobs() == 1
    op = paused.status(operation_id)
    assert op.status == "COMPLETED" and op.completed_at is not None


def test_operation_is_running_while_its_change_is_applied(paused: Paused) -> None:
    operation_id = _create(paused)
    seen: list[OperationStatus] = []

    async def work(ctx: Context) -> None:
        async def probe(ctx: Context, tx: Tx, op: Operation, payload: Json) -> None:
            async with ctx.store.read() as reader:
                found = await reader.operations.get(op.account_sid, op.id)
            assert found is not None
            seen.append(found.status)
            await configurations.apply_create(ctx, tx, op, payload)

        runner = operations.OperationRunner(ctx, {"configuration.create": probe})
        await runner.run(_job(operation_id))

    paused.run(work)
    assert seen == [OperationStatus.RUNNING]
    assert paused.status(operation_id).status == "COMPLETED"


def test_racing_creates_with_one_name_fail_the_second_with_an_rfc9457_error(paused: Paused) -> None:
    first = _create(paused, displayName="Twins")
    second = _create(paused, displayName="Twins")  # accepted: the first is not applied yet
    paused.run_jobs()
    assert paused.status(first).status == "COMPLETED"
    failed = paused.status(second)
    assert failed.status == "FAILED" and failed.completed_at is not None
    assert failed.error == {
        "type": "https://www.twilio.com/docs/errors/20409",
        "title": "Conflict",
        "status": 409,
        "code": 20409,
        "detail": "A configuration named 'Twins' already exists in this account",
        "instance": failed.status_url,
    }
    assert [c.display_name for c in paused.client.conversations.v2.configurations.list()] == ["Twins"]


def test_patch_of_a_configuration_deleted_meanwhile_fails_with_404(paused: Paused) -> None:
    _create(paused)
    paused.run_jobs()
    (configuration,) = paused.client.conversations.v2.configurations.list()
    deleted = paused.client.conversations.v2.configurations(configuration.id).delete()
    patch = paused.client.conversations.v2.configurations(configuration.id).patch(
        patch_configuration_request=patch_request(description="too late")
    )
    paused.run_jobs()
    assert paused.status(deleted["statusUrl"].rsplit("/", 1)[1]).status == "COMPLETED"
    failed = paused.status(operation_id_of(patch))
    assert (failed.status, failed.error["status"], failed.error["code"]) == ("FAILED", 404, 20404)
    assert failed.error["title"] == "Not Found"


def test_delete_that_finds_an_open_conversation_when_it_runs_fails_with_409(paused: Paused) -> None:
    _create(paused)
    paused.run_jobs()
    (configuration,) = paused.client.conversations.v2.configurations.list()
    deleted = paused.client.conversations.v2.configurations(configuration.id).delete()
    add_conversation(paused.url, paused.account_sid, configuration.id, ConversationStatus.ACTIVE)
    paused.run_jobs()
    failed = paused.status(deleted["statusUrl"].rsplit("/", 1)[1])
    assert (failed.status, failed.error["status"]) == ("FAILED", 409)
    assert paused.client.conversations.v2.configurations(configuration.id).fetch().version == 1


def test_running_a_finished_operation_again_changes_nothing(paused: Paused) -> None:
    operation_id = _create(paused)
    paused.run_jobs()
    before = paused.status(operation_id)

    async def rerun(ctx: Context) -> None:
        await operations.OperationRunner(ctx).run(_job(operation_id))
        await operations.OperationRunner(ctx).give_up(_job(operation_id), "late")

    paused.run(rerun)
    after = paused.status(operation_id)
    assert (after.status, after.completed_at) == (before.status, before.completed_at)
    assert [c.version for c in paused.client.conversations.v2.configurations.list()] == [1]


def test_operation_given_up_after_repeated_crashes_fails_with_a_500_error(paused: Paused) -> None:
    operation_id = _create(paused)

    async def give_up(ctx: Context) -> None:
        await operations.OperationRunner(ctx).give_up(_job(operation_id), "ZeroDivisionError: secret internals")

    paused.run(give_up)
    failed = paused.status(operation_id)
    assert (failed.status, failed.error["status"], failed.error["code"]) == ("FAILED", 500, 20500)
    assert "secret internals" not in failed.error["detail"]
    paused.run_jobs()  # the queued job finds the operation terminal
    assert paused.status(operation_id).status == "FAILED"
    assert paused.client.conversations.v2.configurations.list() == []


def test_conversation_delete_operation_removes_the_conversation(paused: Paused) -> None:
    _create(paused)
    paused.run_jobs()
    (configuration,) = paused.client.conversations.v2.configurations.list()
    conversation_id = add_conversation(paused.url, paused.account_sid, configuration.id, ConversationStatus.ACTIVE)

    async def submit(ctx: Context) -> str:
        stored = await operations.submit(
            ctx,
            paused.account_sid,
            "conversation.delete",
            {"conversationId": conversation_id},
            {"conversationId": conversation_id},
            render=lambda op: StoredResponse("", 202, {"Operation-Id": op.id}, b""),
        )
        return stored.headers["Operation-Id"]

    operation_id = paused.run(submit)
    paused.run_jobs()
    assert paused.status(operation_id).status == "COMPLETED"

    async def exists(ctx: Context) -> bool:
        async with ctx.store.read() as tx:
            return await tx.conversations.get(paused.account_sid, conversation_id) is not None

    assert paused.run(exists) is False


def _job(operation_id: str) -> Job:
    return Job(
        id=0,
        kind=operations.JOB_KIND,
        payload={"operationId": operation_id},
        attempts=1,
        max_attempts=8,
        run_at_ms=0,
        lease_until_ms=None,
    )
