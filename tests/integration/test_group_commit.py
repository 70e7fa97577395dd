"""Group commit on SQLite: write transactions ready together share one COMMIT, and only succeed once it is done."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.domain.errors import StoreUnavailable
from orchestrion.store import group_commit
from orchestrion.store.database import Database
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from tests.conftest import SECRET_KEY
from tests.sqltrace import trace

pytestmark = pytest.mark.asyncio(loop_scope="function")


class Boom(Exception):
    pass


@pytest_asyncio.fixture(loop_scope="function")
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    store = Store(Database(sqlite_url), SecretBox(SECRET_KEY))
    yield store
    await store.close()


def _committed_kinds(sqlite_url: str, prefix: str) -> list[str]:
    """What another connection (another process, say) sees committed."""
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        rows = db.execute("SELECT kind FROM jobs WHERE kind LIKE ? ORDER BY kind", (prefix + "%",)).fetchall()
    finally:
        db.close()
    return [kind for (kind,) in rows]


async def _enqueue(store: Store, kind: str, *, fail: bool = False) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue(kind, {}, now_ms=1)
        if fail:
            raise Boom(kind)


async def test_transactions_ready_in_the_same_loop_iteration_share_one_commit(store: Store, sqlite_url: str) -> None:
    tracer = trace(store)
    async with tracer.window() as seen:
        await asyncio.gather(*(_enqueue(store, f"share-{i:02}") for i in range(10)))
    assert seen.write_transactions == 1, seen.summary()
    assert sum(1 for sql in seen.all if sql.strip().upper() == "COMMIT") == 1, seen.summary()
    assert _committed_kinds(sqlite_url, "share-") == [f"share-{i:02}" for i in range(10)]


async def test_a_lone_transaction_runs_no_savepoint(store: Store) -> None:
    tracer = trace(store)
    async with tracer.window() as seen:
        await _enqueue(store, "lone")
    assert [sql.split()[0].upper() for sql in seen.all] == ["BEGIN", "INSERT", "COMMIT"], seen.summary()


async def test_a_caller_hears_of_success_only_once_its_work_is_committed(store: Store, sqlite_url: str) -> None:
    seen_by_others: dict[str, list[str]] = {}

    async def enqueue_then_look(kind: str) -> None:
        await _enqueue(store, kind)
        seen_by_others[kind] = _committed_kinds(sqlite_url, "durable-")

    await asyncio.gather(*(enqueue_then_look(f"durable-{i}") for i in range(5)))
    for kind, visible in seen_by_others.items():
        assert kind in visible


async def test_a_failing_transaction_takes_only_itself_down(store: Store, sqlite_url: str) -> None:
    kinds = [f"mixed-{i}" for i in range(6)]
    outcomes = await asyncio.gather(
        *(_enqueue(store, kind, fail=i in (0, 3)) for i, kind in enumerate(kinds)), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes] == ["Boom", "NoneType", "NoneType", "Boom", "NoneType", "NoneType"]
    assert _committed_kinds(sqlite_url, "mixed-") == ["mixed-1", "mixed-2", "mixed-4", "mixed-5"]


async def test_a_failed_commit_fails_every_transaction_of_its_batch_and_the_next_batch_works(
    store: Store, sqlite_url: str
) -> None:
    async def poisoned() -> None:  # checked only at COMMIT, which fails (as on a full disk)
        async with store.write() as tx:
            await tx.conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            await tx.conn.exec_driver_sql(
                "INSERT INTO api_keys (sid, account_sid, secret_hash, created_ms) VALUES ('SK', 'AC', x'00', 0)"
            )

    outcomes = await asyncio.gather(
        _enqueue(store, "doomed-1"), poisoned(), _enqueue(store, "doomed-2"), return_exceptions=True
    )
    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
    assert _committed_kinds(sqlite_url, "doomed-") == []
    await asyncio.gather(_enqueue(store, "after-1"), _enqueue(store, "after-2"))
    assert _committed_kinds(sqlite_url, "after-") == ["after-1", "after-2"]


async def test_a_caller_cancelled_while_waiting_does_not_stop_the_others_commit(store: Store, sqlite_url: str) -> None:
    tasks = [asyncio.create_task(_enqueue(store, f"cancel-{i}")) for i in range(3)]
    await asyncio.sleep(0)  # every unit has run and is waiting for the batch's commit
    await asyncio.sleep(0)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[1:] == [None, None]
    assert _committed_kinds(sqlite_url, "cancel-") == ["cancel-0", "cancel-1", "cancel-2"]


async def test_a_batch_commits_at_its_size_cap_even_with_more_ready(store: Store, sqlite_url: str) -> None:
    count = group_commit.MAX_UNITS + 6
    tracer = trace(store)
    async with tracer.window() as seen:
        await asyncio.gather(*(_enqueue(store, f"cap-{i:03}") for i in range(count)))
    assert seen.write_transactions == 2, seen.summary()
    assert len(_committed_kinds(sqlite_url, "cap-")) == count


async def test_a_transaction_that_awaits_inside_holds_the_batch_open_until_it_ends(
    store: Store, sqlite_url: str
) -> None:
    release = asyncio.Event()

    async def slow() -> None:
        async with store.write() as tx:
            await tx.jobs.enqueue("slow-1", {}, now_ms=1)
            await release.wait()

    first = asyncio.create_task(_enqueue(store, "slow-0"))
    second = asyncio.create_task(slow())
    for _ in range(5):
        await asyncio.sleep(0)
    assert _committed_kinds(sqlite_url, "slow-") == []  # slow-0 waits for the batch slow-1 keeps open
    release.set()
    await asyncio.gather(first, second)
    assert _committed_kinds(sqlite_url, "slow-") == ["slow-0", "slow-1"]
