"""The outbox's storage contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

import pytest

from orchestrion.store.jobs import DEAD_RETENTION_MS, JobLease
from orchestrion.store.store import Store

pytestmark = pytest.mark.asyncio


async def test_enqueued_job_is_claimed_once_with_a_lease(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {"n": 1}, now_ms=1_000)
    async with store.write() as tx:
        first = await tx.jobs.claim("w1", now_ms=1_000, lease_ms=500, limit=10)
    async with store.write() as tx:
        second = await tx.jobs.claim("w2", now_ms=1_200, lease_ms=500, limit=10)
    assert [(j.kind, j.payload, j.attempts) for j in first] == [("k", {"n": 1}, 1)]
    assert second == []


async def test_job_whose_lease_expired_is_claimed_again(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {}, now_ms=1_000)
    async with store.write() as tx:
        await tx.jobs.claim("dead", now_ms=1_000, lease_ms=500, limit=10)
    async with store.write() as tx:
        again = await tx.jobs.claim("alive", now_ms=1_501, lease_ms=500, limit=10)
    assert [j.attempts for j in again] == [2]


async def test_job_not_yet_due_is_not_claimed(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {}, now_ms=1_000, run_at_ms=5_000)
    async with store.write() as tx:
        early = await tx.jobs.claim("w", now_ms=4_999, lease_ms=500, limit=10)
        due_in = await tx.jobs.next_due_in_ms(now_ms=4_000)
    assert early == []
    assert due_in == 1_000


async def test_completing_a_job_needs_the_lease_holder(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {}, now_ms=1_000)
    async with store.write() as tx:
        (job,) = await tx.jobs.claim("w1", now_ms=1_000, lease_ms=500, limit=1)
    async with store.write() as tx:
        by_other = await tx.jobs.complete(JobLease.of(job, "w2"))
        by_holder = await tx.jobs.complete(JobLease.of(job, "w1"))
        remaining = await tx.jobs.count()
    assert (by_other, by_holder, remaining) == (False, True, 0)


async def test_retried_job_waits_for_its_backoff_in_real_time(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {}, now_ms=1_000)
    async with store.write() as tx:
        (job,) = await tx.jobs.claim("w", now_ms=1_000, lease_ms=500, limit=1)
        await tx.jobs.retry(JobLease.of(job, "w"), retry_at_ms=3_000, error="boom")
    async with store.write() as tx:
        due_in = await tx.jobs.next_due_in_ms(now_ms=1_000_000, wall_ms=2_000)
        # The test clock an hour ahead does not end a backoff that real time has not.
        before = await tx.jobs.claim("w", now_ms=3_600_000, wall_ms=2_999, lease_ms=500, limit=1)
        after = await tx.jobs.claim("w", now_ms=3_600_000, wall_ms=3_000, lease_ms=500, limit=1)
    assert (due_in, before) == (1_000, [])
    assert [j.attempts for j in after] == [2]


async def test_a_lease_runs_on_real_time_whatever_the_test_clock_says(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {}, now_ms=1_000)
    async with store.write() as tx:
        await tx.jobs.claim("w1", now_ms=1_000, wall_ms=1_000, lease_ms=500, limit=1)
    async with store.write() as tx:
        an_hour_later = await tx.jobs.claim("w2", now_ms=3_601_000, wall_ms=1_200, lease_ms=500, limit=1)
        lease_over = await tx.jobs.claim("w2", now_ms=3_601_000, wall_ms=1_500, lease_ms=500, limit=1)
    assert (an_hour_later, [j.attempts for j in lease_over]) == ([], [2])


async def test_concurrent_claimers_never_share_a_job(store: Store) -> None:
    async with store.write() as tx:
        for n in range(50):
            await tx.jobs.enqueue("k", {"n": n}, now_ms=1_000)

    async def claimer(name: str) -> list[int]:
        got: list[int] = []
        for _ in range(20):
            async with store.write() as tx:
                jobs = await tx.jobs.claim(name, now_ms=1_000, lease_ms=60_000, limit=3)
            got.extend(j.payload["n"] for j in jobs)
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    claimed = [n for r in results for n in r]
    assert sorted(claimed) == list(range(50))


async def test_jobs_sharing_an_ordering_key_run_one_at_a_time_in_order(store: Store) -> None:
    async with store.write() as tx:
        for n in range(3):
            await tx.jobs.enqueue("k", {"n": n}, now_ms=1_000, ordering_key="conv-a")
        await tx.jobs.enqueue("k", {"n": 9}, now_ms=1_000, ordering_key="conv-b")
    async with store.write() as tx:
        first = await tx.jobs.claim("w", now_ms=1_000, lease_ms=60_000, limit=10)
    assert sorted(j.payload["n"] for j in first) == [0, 9]
    async with store.write() as tx:
        head = next(j for j in first if j.payload["n"] == 0)
        await tx.jobs.complete(JobLease.of(head, "w"))
    async with store.write() as tx:
        second = await tx.jobs.claim("w", now_ms=1_000, lease_ms=60_000, limit=10)
    assert [j.payload["n"] for j in second] == [1]


async def test_a_retried_head_job_holds_back_later_jobs_of_its_key(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("k", {"n": 0}, now_ms=1_000, ordering_key="conv")
        await tx.jobs.enqueue("k", {"n": 1}, now_ms=1_000, ordering_key="conv")
    async with store.write() as tx:
        (head,) = await tx.jobs.claim("w", now_ms=1_000, lease_ms=60_000, limit=10)
        await tx.jobs.retry(JobLease.of(head, "w"), retry_at_ms=9_000, error="receiver down")
    async with store.write() as tx:
        meanwhile = await tx.jobs.claim("w", now_ms=2_000, lease_ms=60_000, limit=10)
    assert meanwhile == []


async def _claimed(store: Store, worker: str, *, now_ms: int, count: int = 1) -> list[JobLease]:
    async with store.write() as tx:
        for n in range(count):
            await tx.jobs.enqueue("k", {"n": n}, now_ms=now_ms)
    async with store.write() as tx:
        return [JobLease.of(j, worker) for j in await tx.jobs.claim(worker, now_ms=now_ms, lease_ms=500, limit=count)]


async def test_a_heartbeat_extends_the_leases_its_runs_still_hold(store: Store) -> None:
    kept, lost = await _claimed(store, "w1", now_ms=1_000, count=2)
    async with store.write() as tx:
        await tx.jobs.retry(lost, retry_at_ms=1_000, error="handed back")
        [taken] = await tx.jobs.claim("w2", now_ms=1_000, lease_ms=500, limit=1)
    async with store.write() as tx:
        held = await tx.jobs.extend([kept, lost], lease_until_ms=5_000)
    async with store.write() as tx:
        later = await tx.jobs.claim("w3", now_ms=4_000, lease_ms=500, limit=10)
    # The job w2 took was not extended by w1's heartbeat; the one w1 kept was.
    assert (held, taken.id, [j.id for j in later]) == ({kept.job_id}, lost.job_id, [lost.job_id])


async def test_a_run_holds_its_job_only_with_its_own_attempt(store: Store) -> None:
    [lease] = await _claimed(store, "w", now_ms=1_000)
    async with store.write() as tx:
        [again] = await tx.jobs.claim("w", now_ms=2_000, lease_ms=500, limit=1)  # the same worker, a later run
    async with store.write() as tx:
        stale, current = await tx.jobs.hold(lease), await tx.jobs.hold(JobLease.of(again, "w"))
        stale_completes = await tx.jobs.complete(lease)
    assert (stale, current, stale_completes) == (False, True, False)


async def test_a_released_job_is_claimable_at_once(store: Store) -> None:
    [lease] = await _claimed(store, "stopping", now_ms=1_000)
    async with store.write() as tx:
        assert await tx.jobs.release(lease)
    async with store.write() as tx:
        [again] = await tx.jobs.claim("other", now_ms=1_001, lease_ms=500, limit=1)
    assert (again.id, again.attempts) == (lease.job_id, 2)


async def test_a_claim_for_some_kinds_leaves_the_others(store: Store) -> None:
    async with store.write() as tx:
        await tx.jobs.enqueue("webhook", {}, now_ms=1_000)
        await tx.jobs.enqueue("send", {}, now_ms=1_000, run_at_ms=2_000)
    async with store.write() as tx:
        sends_due = await tx.jobs.next_due_in_ms(now_ms=1_000, kinds=["send"])
        sends = await tx.jobs.claim("w", now_ms=2_000, lease_ms=500, limit=10, kinds=["send", "step"])
        webhooks = await tx.jobs.claim("w", now_ms=2_000, lease_ms=500, limit=10, kinds=["webhook"])
    assert (sends_due, [j.kind for j in sends], [j.kind for j in webhooks]) == (1_000, ["send"], ["webhook"])


async def test_a_job_that_gave_up_is_kept_as_a_dead_letter_with_its_last_error(store: Store) -> None:
    [lease] = await _claimed(store, "w", now_ms=1_000)
    async with store.write() as tx:
        by_other = await tx.jobs.bury(JobLease(lease.job_id, "other", lease.attempt), error="x", now_ms=2_000)
        by_holder = await tx.jobs.bury(lease, error="HTTP 500", now_ms=2_000)
        outbox, dead = await tx.jobs.entries(), await tx.jobs.entries(dead=True, kind="k")
    assert (by_other, by_holder, outbox) == (False, True, [])
    assert [(d.kind, d.payload, d.attempts, d.last_error, d.dead_ms) for d in dead] == [
        ("k", {"n": 0}, 1, "HTTP 500", 2_000)
    ]


async def test_a_revived_dead_job_is_a_new_job_due_at_once(store: Store) -> None:
    [lease] = await _claimed(store, "w", now_ms=1_000)
    async with store.write() as tx:
        await tx.jobs.bury(lease, error="boom", now_ms=2_000)
        [dead] = await tx.jobs.entries(dead=True)
        new_id = await tx.jobs.revive(dead.id, payload={"n": 0, "again": True}, now_ms=3_000)
        missing = await tx.jobs.revive(dead.id, payload={}, now_ms=3_000)
    async with store.write() as tx:
        [again] = await tx.jobs.claim("w", now_ms=3_000, lease_ms=500, limit=10)
        left = await tx.jobs.entries(dead=True)
    assert (missing, left) == (None, [])
    assert (again.id, again.attempts, again.payload) == (new_id, 1, {"n": 0, "again": True})


async def test_a_job_can_die_with_the_id_of_one_that_died_before(store: Store) -> None:
    for _ in range(2):  # SQLite gives the second job the first one's id: the outbox was empty
        [lease] = await _claimed(store, "w", now_ms=1_000)
        async with store.write() as tx:
            assert await tx.jobs.bury(lease, error="boom", now_ms=2_000)
    async with store.read() as tx:
        assert len(await tx.jobs.entries(dead=True)) == 2


async def test_dead_letters_are_purged_after_a_week(store: Store) -> None:
    first, second = await _claimed(store, "w", now_ms=1_000, count=2)
    async with store.write() as tx:
        await tx.jobs.bury(first, error="old", now_ms=1_000)
        await tx.jobs.bury(second, error="new", now_ms=1_000 + DEAD_RETENTION_MS + 1)
        dead = await tx.jobs.entries(dead=True)
    assert [d.last_error for d in dead] == ["new"]


async def test_one_claim_takes_up_to_each_pools_own_limit(store: Store) -> None:
    async with store.write() as tx:
        for kind in ("send", "step", "webhook") * 3:
            await tx.jobs.enqueue(kind, {}, now_ms=1_000)
    async with store.write() as tx:
        taken = await tx.jobs.claim_pools(
            "w", now_ms=1_000, lease_ms=500, pools=[(["send", "step"], 4), (["webhook"], 1), (["timer"], 5)]
        )
    assert sorted(j.kind for j in taken) == ["send", "send", "step", "step", "webhook"]
