"""Stopping a process (SIGTERM): running jobs finish within the grace period, the rest are released at once.

The API runs without its in-process dispatcher on a database of its own, so
the only workers are the real processes started here. A send made slow by
the sandbox (``sendDelayMs``) is the job in flight when the signal comes.
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrion.store.store import Tx
from orchestrion.store.tables import jobs
from tests.acceptance.actions_support import fetch, send, wait_for
from tests.acceptance.conftest import create_conversation, in_store, make_configuration
from tests.acceptance.processes import Processes
from tests.conftest import LiveServer, new_account, sdk_client, test_settings

pytestmark = pytest.mark.slow

LOUD = {"ORCHESTRION_LOG_LEVEL": "info"}


@pytest.fixture(autouse=True)
def empty_outbox(private_database_url: str) -> None:
    """The module's database is shared by its tests: none inherits another's slow sends."""

    async def empty(tx: Tx) -> None:
        await tx.conn.execute(jobs.delete())

    in_store(private_database_url, empty)


def _send_job(url: str) -> Any:
    async def find(tx: Tx) -> Any:
        return (await tx.conn.execute(sa.select(jobs).where(jobs.c.kind == "action.send"))).first()

    return in_store(url, find)


def _claimed_by(url: str, proc: subprocess.Popen[bytes]) -> Any:
    job = _send_job(url)
    return job if job is not None and (job.locked_by or "").endswith(f":{proc.pid}") else None


@dataclass
class Sender:
    """Sends slow messages through the API server of the test, as a new account."""

    url: str
    client: Any
    account_sid: str

    def slow_send(self, delay_ms: int) -> tuple[str, str]:
        conversation_id = create_conversation(self.client, make_configuration(self.url, self.account_sid)).id
        created = send(self.client, conversation_id, channel_settings={"sandbox": {"sendDelayMs": delay_ms}})
        return conversation_id, created.id


def _sender(url: str, server: LiveServer) -> Sender:
    creds = new_account(url)
    return Sender(url, sdk_client(server, creds), creds.account_sid)


def test_a_stopped_worker_finishes_its_running_job_before_it_exits(
    private_database_url: str, api_only: LiveServer, processes: Processes
) -> None:
    url = private_database_url
    sender = _sender(url, api_only)
    worker = processes.worker("--database-url", url, **LOUD)
    conversation_id, action_id = sender.slow_send(3_000)
    job = wait_for(lambda: _claimed_by(url, worker), "the worker to claim the send")

    assert processes.terminate(worker) == 0

    log = processes.log(worker)
    assert "dispatcher_stopping" in log and f"action.send:{job.id}" in log
    assert "job_abandoned" not in log
    assert _send_job(url) is None  # done, not left behind
    assert fetch(sender.client, conversation_id, action_id).related["messageSid"].startswith("SM")


def test_a_job_still_running_after_the_grace_period_is_released_for_another_worker_at_once(
    private_database_url: str, api_only: LiveServer, processes: Processes
) -> None:
    url = private_database_url
    sender = _sender(url, api_only)
    # A lease of ten minutes: only a release lets another worker take the job within this test.
    options = {"ORCHESTRION_SHUTDOWN_GRACE_S": "1", "ORCHESTRION_JOB_LEASE_MS": "600000", **LOUD}
    first = processes.worker("--database-url", url, **options)
    sender.slow_send(60_000)
    job = wait_for(lambda: _claimed_by(url, first), "the first worker to claim the send")

    assert processes.terminate(first) == 0

    assert "job_abandoned" in processes.log(first)
    released = _send_job(url)
    assert (released.id, released.locked_by, released.lease_until_ms) == (job.id, None, None)
    second = processes.worker("--database-url", url, **options)
    again = wait_for(lambda: _claimed_by(url, second), "the second worker to take the released job")
    assert (again.id, again.attempts) == (job.id, 2)


def test_a_second_signal_ends_the_grace_period(
    private_database_url: str, api_only: LiveServer, processes: Processes
) -> None:
    url = private_database_url
    worker = processes.worker("--database-url", url, ORCHESTRION_SHUTDOWN_GRACE_S="600", **LOUD)
    _sender(url, api_only).slow_send(60_000)
    wait_for(lambda: _claimed_by(url, worker), "the worker to claim the send")

    worker.terminate()
    wait_for(lambda: "dispatcher_stopping" in processes.log(worker) or None, "the worker to start stopping")
    assert processes.terminate(worker) == 0  # well within the ten minutes of grace

    assert "job_abandoned" in processes.log(worker)
    assert _send_job(url).locked_by is None


def test_a_stopped_server_finishes_the_jobs_of_its_dispatcher_before_it_exits(
    private_database_url: str, processes: Processes
) -> None:
    url = private_database_url
    proc, base_url = processes.serve_process(**LOUD)
    _, action_id = _sender(url, LiveServer(test_settings(url), url=base_url)).slow_send(3_000)
    job = wait_for(lambda: _claimed_by(url, proc), "the server's dispatcher to claim the send")

    # uvicorn ends by raising the signal it got again, once everything is shut down.
    assert processes.terminate(proc) == -signal.SIGTERM

    log = processes.log(proc)
    assert "dispatcher_stopping" in log and f"action.send:{job.id}" in log
    assert _send_job(url) is None

    async def stored(tx: Tx) -> Any:
        return await tx.actions.get_by_id(action_id)

    assert in_store(url, stored).related["messageSid"].startswith("SM")
