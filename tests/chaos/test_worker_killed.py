"""Scale-out on PostgreSQL: 2 API processes + 2 worker processes behave as one service,
and a worker killed with SIGKILL halfway through 2,000 Actions loses nothing and sends nothing twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa

from orchestrion.store.database import Database
from tests.acceptance.processes import Processes
from tests.conftest import Credentials, new_account, postgres_database

pytestmark = pytest.mark.slow

ACTIONS = 2_000
CONVERSATIONS = 100  # 20 actions each: well under the per-conversation limit of 30/s
CONCURRENCY = 32


@pytest.fixture
def pg_url() -> Iterator[str]:
    from orchestrion.store.migrate import upgrade

    for url in postgres_database():
        upgrade(url)
        yield url


async def _create_all(url: str, creds: Credentials) -> list[tuple[str, str]]:
    auth = (creds.account_sid, creds.auth_token)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, auth=auth, timeout=30, limits=limits) as http:
        accepted = (
            await http.post(
                "/v2/ControlPlane/Configurations",
                json={
                    "displayName": "scale",
                    "description": "scale test",
                    "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
                    "memoryStoreId": "mem_store_01jq7z8k9m0n1p2q3r4s5t6v7w",
                },
            )
        ).json()
        deadline = time.monotonic() + 30
        while (await http.get(accepted["statusUrl"])).json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline, "configuration operation did not complete"
            await asyncio.sleep(0.05)
        configuration_id = accepted["related"]["configurationId"]
        conversations = [
            (await http.post("/v2/Conversations", json={"configurationId": configuration_id})).json()["id"]
            for _ in range(CONVERSATIONS)
        ]
        gate = asyncio.Semaphore(CONCURRENCY)

        async def create(n: int) -> tuple[str, str]:
            conversation_id = conversations[n % CONVERSATIONS]
            body = {
                "type": "SEND_MESSAGE",
                "payload": {
                    "from": {"address": "+15005550006", "channel": "SMS"},
                    "to": [{"address": f"+1415555{n % 10_000:04d}", "channel": "SMS"}],
                    "content": {"text": f"message {n}"},
                },
            }
            async with gate:
                response = await http.post(f"/v2/Conversations/{conversation_id}/Actions", json=body)
            assert response.status_code == 202, response.text
            return conversation_id, response.json()["id"]

        return await asyncio.gather(*(create(n) for n in range(ACTIONS)))


async def _counts(url: str) -> dict[str, int]:
    database = Database(url)
    queries = {
        "pending": "SELECT count(*) FROM actions WHERE status = 'PENDING'",
        "completed": "SELECT count(*) FROM actions WHERE status = 'COMPLETED'",
        "failed": "SELECT count(*) FROM actions WHERE status = 'FAILED'",
        "communications": "SELECT count(*) FROM communications",
        "communications_per_sid_max": (
            "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM communications GROUP BY resource_id) c"
        ),
        "sends": "SELECT count(*) FROM sandbox_messages",
        "completed_without_communication": (
            "SELECT count(*) FROM actions a WHERE a.status = 'COMPLETED' AND NOT EXISTS "
            "(SELECT 1 FROM communications c WHERE c.resource_id = a.message_sid)"
        ),
    }
    try:
        async with database.connect() as conn:
            return {name: int((await conn.execute(sa.text(q))).scalar_one()) for name, q in queries.items()}
    finally:
        await database.dispose()


def test_two_api_and_two_worker_processes_complete_every_action_once_despite_a_killed_worker(
    pg_url: str, figures: Callable[[str], None]
) -> None:
    processes = Processes(pg_url)
    try:
        url = processes.serve("--workers", "2", "--no-worker")
        victim = processes.worker("--concurrency", "16", ORCHESTRION_JOB_LEASE_MS="2000")
        processes.worker("--concurrency", "16", ORCHESTRION_JOB_LEASE_MS="2000")
        creds = new_account(pg_url)

        created = asyncio.run(_create_all(url, creds))
        assert len({action_id for _, action_id in created}) == ACTIONS

        # Kill one worker while work is still in flight.
        deadline = time.monotonic() + 120
        while asyncio.run(_counts(pg_url))["pending"] > ACTIONS // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        Processes.kill(victim)

        while (counts := asyncio.run(_counts(pg_url)))["pending"] > 0:
            assert time.monotonic() < deadline, f"actions still pending: {counts}"
            time.sleep(0.2)
    finally:
        processes.stop_all()

    figures(
        f"accepted={ACTIONS} completed={counts['completed']} failed={counts['failed']}"
        f" lost={ACTIONS - counts['completed'] - counts['failed']}"
        f" duplicated={counts['communications'] - counts['completed'] + counts['sends'] - ACTIONS}"
    )
    assert counts["completed"] + counts["failed"] == ACTIONS
    assert counts["failed"] == 0
    assert counts["communications"] == counts["completed"]
    assert counts["communications_per_sid_max"] == 1
    assert counts["completed_without_communication"] == 0
    assert counts["sends"] == ACTIONS
