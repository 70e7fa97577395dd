"""A worker process killed (SIGKILL) in the middle of a send loses nothing and sends nothing twice.

The API server runs without its in-process dispatcher, on a database of its
own (the session's shared server would otherwise take the jobs), so the only
workers are the real ``orchestrion worker`` processes started here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from orchestrion.runtime import Runtime
from orchestrion.store.tables import jobs
from tests.acceptance.actions_support import fetch, send, wait_for, wait_terminal
from tests.acceptance.conftest import create_conversation, make_configuration
from tests.acceptance.processes import Processes
from tests.conftest import LiveServer, new_account, sdk_client, test_settings

pytestmark = pytest.mark.slow


def _query(url: str, statement: Any) -> list[Any]:
    async def run() -> list[Any]:
        runtime = Runtime.build(test_settings(url))
        try:
            async with runtime.ctx.store.read() as tx:
                return list(await tx.conn.execute(statement))
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(run())


def _send_job_holder(url: str) -> str | None:
    rows = _query(url, sa.select(jobs.c.locked_by).where(jobs.c.kind == "action.send"))
    return rows[0].locked_by if rows and rows[0].locked_by else None


def _pending_jobs(url: str) -> int:
    return int(_query(url, sa.select(sa.func.count()).select_from(jobs))[0][0])


def _count(url: str, table: str, conversation_id: str) -> int:
    statement = sa.text(f"SELECT count(*) FROM {table} WHERE conversation_id = :c").bindparams(c=conversation_id)
    return int(_query(url, statement)[0][0])


def test_a_send_interrupted_by_a_killed_worker_finishes_once_on_another(
    private_database_url: str, api_only: LiveServer, processes: Processes
) -> None:
    url = private_database_url
    creds = new_account(url)
    client: Any = sdk_client(api_only, creds)
    conversation_id = create_conversation(client, make_configuration(url, creds.account_sid)).id

    first = processes.worker("--database-url", url, ORCHESTRION_JOB_LEASE_MS="1500")
    # The sandbox takes 3 s to accept this message: the worker is killed while it waits.
    created = send(client, conversation_id, channel_settings={"sandbox": {"sendDelayMs": 3000}})
    holder = wait_for(lambda: _send_job_holder(url), "the first worker to claim the send job")
    assert holder.endswith(f":{first.pid}")
    processes.kill(first)
    # Killed mid-send: the job is still leased to the dead worker, the Action still PENDING.
    [job] = _query(url, sa.select(jobs.c.attempts, jobs.c.locked_by).where(jobs.c.kind == "action.send"))
    assert (job.attempts, job.locked_by) == (1, holder)
    assert fetch(client, conversation_id, created.id).status == "PENDING"

    processes.worker("--database-url", url, ORCHESTRION_JOB_LEASE_MS="20000")
    done = wait_terminal(client, conversation_id, created.id, timeout_s=60)

    assert done.status == "COMPLETED"
    wait_for(lambda: _pending_jobs(url) == 0 or None, "the outbox to drain (the sandbox's last step)")
    assert _count(url, "sandbox_messages", conversation_id) == 1
    assert _count(url, "communications", conversation_id) == 1
    [message] = _query(url, sa.text("SELECT sid, status FROM sandbox_messages"))
    assert (message.sid, message.status) == (done.related["messageSid"], "delivered")
