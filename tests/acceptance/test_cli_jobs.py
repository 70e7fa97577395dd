"""``orchestrion jobs list | retry``: an operator's view of the outbox and its dead letters."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from orchestrion.domain import ids
from orchestrion.services.lifecycle import TIMER_JOB
from orchestrion.store.jobs import JobEntry, JobLease
from orchestrion.store.migrate import upgrade
from orchestrion.store.store import Tx
from tests.acceptance.conftest import in_store
from tests.acceptance.processes import ORCHESTRION, process_env
from tests.builders import new_configuration, new_conversation


@pytest.fixture
def database_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    return url


def _jobs(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCHESTRION, "jobs", *args], env=process_env(url), capture_output=True, text=True, timeout=60, check=False
    )


def _dead_letter(url: str, kind: str, payload: dict[str, object], error: str) -> None:
    """A job that ran, gave up with ``error`` and was dead-lettered."""

    async def arrange(tx: Tx) -> None:
        await tx.jobs.enqueue(kind, payload, now_ms=1_000)
        [job] = await tx.jobs.claim("gone", now_ms=1_000, lease_ms=1_000, limit=1, kinds=[kind])
        assert await tx.jobs.bury(JobLease.of(job, "gone"), error=error, now_ms=2_000)

    in_store(url, arrange)


def _conversation(url: str) -> dict[str, object]:
    """A timer's payload, for a conversation that exists."""
    account_sid = ids.new_account_sid()
    configuration = new_configuration(account_sid)
    conversation = new_conversation(account_sid, configuration.id)

    async def arrange(tx: Tx) -> None:
        await tx.configurations.insert(configuration)
        await tx.conversations.insert(conversation, last_activity_ms=0)

    in_store(url, arrange)
    return {"accountSid": account_sid, "conversationId": conversation.id, "dueMs": 1}


def _dead(url: str) -> list[JobEntry]:
    async def dead(tx: Tx) -> list[JobEntry]:
        return await tx.jobs.entries(dead=True)

    return in_store(url, dead)


def test_dead_jobs_are_listed_with_their_last_error(database_file: str) -> None:
    _dead_letter(database_file, TIMER_JOB, {"conversationId": "conv_conversation_x", "dueMs": 1}, "database gone")
    _dead_letter(database_file, "action.send", {"actionId": "conv_action_x"}, "21606: provider says no")

    table = _jobs(database_file, "list", "--dead")
    only_sends = json.loads(_jobs(database_file, "list", "--dead", "--kind", "action.send", "--json").stdout)

    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "KIND", "ATTEMPTS", "STATE", "LAST", "ERROR"]
    assert [row.split()[1] for row in rows] == [TIMER_JOB, "action.send"]
    assert rows[1].endswith("21606: provider says no") and "dead since 1970-01-01T00:00:02Z" in rows[1]
    assert [(j["kind"], j["attempts"], j["lastError"]) for j in only_sends] == [
        ("action.send", 1, "21606: provider says no")
    ]


def test_a_dead_job_whose_failure_can_be_undone_goes_back_to_the_outbox(database_file: str) -> None:
    _dead_letter(database_file, TIMER_JOB, _conversation(database_file), "database gone")
    [dead] = _dead(database_file)

    result = _jobs(database_file, "retry", str(dead.id), "--json")

    assert result.returncode == 0
    new_id = json.loads(result.stdout)["jobId"]
    [waiting] = json.loads(_jobs(database_file, "list", "--json").stdout)
    assert (waiting["id"], waiting["kind"], waiting["attempts"]) == (new_id, TIMER_JOB, 0)
    assert _dead(database_file) == []


def test_a_dead_job_whose_failure_is_final_is_not_retried(database_file: str) -> None:
    _dead_letter(database_file, "action.send", {"actionId": "conv_action_x"}, "21606: provider says no")
    [dead] = _dead(database_file)

    refused = _jobs(database_file, "retry", str(dead.id))
    unknown = _jobs(database_file, "retry", "999")

    assert refused.returncode == unknown.returncode == 1
    assert refused.stderr == (
        f"orchestrion: Dead job {dead.id} (action.send) cannot be retried: "
        "it failed its Action, and FAILED is final: send a new Action instead\n"
    )
    assert unknown.stderr == "orchestrion: The requested dead job 999 was not found\n"
    assert len(_dead(database_file)) == 1
