"""``orchestrion jobs list | retry``: the outbox and its dead letters, for operators.

``list`` shows the jobs waiting or running (or, with ``--dead``, those that
gave up, with their last error); ``retry`` puts a dead job back in the outbox
when its failure can be undone (``services.jobs``). Errors are one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from orchestrion.domain.clock import WallClock, to_wire
from orchestrion.domain.errors import OrchestrionError
from orchestrion.settings import Settings

if TYPE_CHECKING:
    from orchestrion.store.jobs import JobEntry


def add_parser(sub: Any) -> None:
    """The ``jobs`` command under ``sub`` (the CLI's argparse subparsers)."""
    parser = sub.add_parser("jobs", help="list the outbox's jobs and dead letters; retry a dead job")
    jobs_sub = parser.add_subparsers(dest="jobs_command", required=True)
    listing = jobs_sub.add_parser("list", help="jobs waiting or running (or dead, with --dead)")
    listing.add_argument("--dead", action="store_true", help="jobs that gave up, with their last error")
    listing.add_argument("--kind", help="only jobs of this kind (e.g. webhook.deliver)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many, oldest first (1-1000)")
    listing.add_argument("--json", action="store_true")
    retry = jobs_sub.add_parser("retry", help="put a dead job back in the outbox")
    retry.add_argument("job_id", type=int)
    retry.add_argument("--json", action="store_true")
    for p in (parser, listing, retry):
        p.add_argument("--database-url", dest="database_url_sub")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from orchestrion.runtime import Runtime  # imported when used: the CLI starts fast
    from orchestrion.services import jobs

    runtime = Runtime.build(settings)
    try:
        if args.jobs_command == "list":
            entries = await jobs.list_jobs(runtime.ctx, dead=args.dead, kind=args.kind, limit=args.limit)
            _print_entries(entries, as_json=args.json)
            return 0
        new_id = await jobs.retry_dead_job(runtime.ctx, args.job_id)
    except OrchestrionError as error:
        print(f"orchestrion: {error.message}", file=sys.stderr)
        return 1
    finally:
        await runtime.ctx.store.close()
    if args.json:
        print(json.dumps({"deadJobId": args.job_id, "jobId": new_id}))
    else:
        print(f"dead job {args.job_id} is back in the outbox as job {new_id}")
    return 0


def _state(entry: JobEntry, now_ms: int) -> str:
    if entry.dead_ms is not None:
        return f"dead since {to_wire(entry.dead_ms)}"
    if entry.locked_by is not None:
        return f"running on {entry.locked_by}"
    if entry.lease_until_ms is not None and entry.lease_until_ms > now_ms:
        return f"retrying from {to_wire(entry.lease_until_ms)}"
    assert entry.run_at_ms is not None
    return f"due at {to_wire(entry.run_at_ms)}"


def _print_entries(entries: list[JobEntry], *, as_json: bool) -> None:
    now = WallClock().now_ms()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": e.id,
                        "kind": e.kind,
                        "attempts": e.attempts,
                        "maxAttempts": e.max_attempts,
                        "state": _state(e, now),
                        "lastError": e.last_error,
                        "payload": e.payload,
                    }
                    for e in entries
                ]
            )
        )
        return
    table = [("ID", "KIND", "ATTEMPTS", "STATE")] + [
        (str(e.id), e.kind, f"{e.attempts}/{e.max_attempts}", _state(e, now)) for e in entries
    ]
    errors = ["LAST ERROR"] + [e.last_error or "" for e in entries]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row, error in zip(table, errors, strict=True):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + "  " + error)
