"""What a handed-off job's first run takes instead of reading the store back (services.handoff.Fresh)."""

from __future__ import annotations

from orchestrion.services.handoff import Fresh


def test_a_record_is_taken_once() -> None:
    fresh = Fresh()
    fresh.put(7, "the action")
    assert fresh.take(7) == "the action"
    assert fresh.take(7) is None


def test_records_of_jobs_that_never_ran_are_pushed_out_by_newer_ones() -> None:
    fresh = Fresh()
    for job_id in range(Fresh.LIMIT + 1):
        fresh.put(job_id, job_id)
    assert fresh.take(0) is None
    assert fresh.take(Fresh.LIMIT) == Fresh.LIMIT
