"""The command line: parse the options, run every target round after round, print the report.

Usage and every option: bench/README.md, or ``bench/bench_actions.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from orchestrion_bench import REPO_ROOT, profile
from orchestrion_bench.phases import DEFAULT_PHASES, PHASES, bench_target, log
from orchestrion_bench.processes import ProcessRegistry
from orchestrion_bench.report import goals_table, markdown_table, notes
from orchestrion_bench.rounds import merge_rounds
from orchestrion_bench.running import RunContext
from orchestrion_bench.targets import ALIASES, TARGETS, resolve

DESCRIPTION = """\
Load benchmark for Orchestrion's Actions endpoints and inbound webhook, read against a bare
ASGI floor, storage limits and Prism measured in the same run.

Runs, against each target in turn (one server at a time on the machine):
  setup   one Configuration + enough Conversations (not measured)
  POST    closed-loop SEND_MESSAGE creation
  drain   wait until every created action is terminal (dispatch backlog)
  GET     closed-loop action-status reads of the actions created above
  e2e     create-to-terminal latency, polling each action
  inbound closed-loop signed Twilio webhooks (/twilio/{AccountSid}/messages)
          captured as Communications, then counted through the API
  pages   (only when named) the Conversations list's first page against a page
          --page-depth rows in, seeded straight into the database: keyset
          pagination should make both cost the same

See bench/README.md for what every number means. Loopback only; every loop is
bounded in time and count; child processes are killed on any exit.
"""
DEFAULT_REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "twilio_conversations_v2.json"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--actions",
        type=int,
        default=10_000,
        help="max actions created in the POST phase (incl. warmup) per target",
    )
    ap.add_argument(
        "--concurrency",
        type=int,
        default=32,
        help="closed-loop workers (= keep-alive connections) for POST and GET",
    )
    ap.add_argument("--duration-s", type=float, default=10.0, help="length of each measured phase")
    ap.add_argument(
        "--warmup-s",
        type=float,
        default=1.0,
        help="unmeasured warmup before POST and GET",
    )
    ap.add_argument(
        "--targets",
        default="sqlite",
        help=f"comma list of {', '.join(TARGETS)} (aliases: "
        + ", ".join(f"{a}={'+'.join(t)}" for a, t in ALIASES.items())
        + "); baseline is always added",
    )
    ap.add_argument(
        "--phases",
        default=",".join(DEFAULT_PHASES),
        help=f"comma list of {', '.join(PHASES)} (get needs post); default: {','.join(DEFAULT_PHASES)}",
    )
    ap.add_argument(
        "--inbound-messages",
        type=int,
        default=20_000,
        help="max inbound messages a target may get in the inbound phase (incl. warmup)",
    )
    ap.add_argument(
        "--inbound-customers",
        type=int,
        default=200,
        help="inbound phase: distinct senders (one conversation each with the same business number; at most 10,000)",
    )
    ap.add_argument("--page-depth", type=int, default=100_000, help="pages phase: rows before the deep page it reads")
    ap.add_argument("--page-size", type=int, default=50, help="pages phase: PageSize of the pages it reads")
    ap.add_argument("--json", type=Path, help="also write raw results here")
    ap.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: raw asyncio streams (default) or httpx.AsyncClient",
    )
    ap.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop")
    ap.add_argument(
        "--client-cpu",
        type=int,
        default=None,
        help="pin the load generator to this CPU and the servers to the others",
    )
    ap.add_argument(
        "--latency-concurrency",
        type=int,
        default=4,
        help="concurrent create->terminal probes",
    )
    ap.add_argument(
        "--latency-actions",
        type=int,
        default=500,
        help="max actions for the create->terminal phase",
    )
    ap.add_argument(
        "--poll-ms",
        type=float,
        default=5.0,
        help="status poll interval, create->terminal",
    )
    ap.add_argument(
        "--action-timeout-s",
        type=float,
        default=10.0,
        help="give up on one action not terminal after this",
    )
    ap.add_argument("--drain-timeout-s", type=float, default=120.0)
    ap.add_argument("--startup-timeout-s", type=float, default=60.0)
    ap.add_argument("--setup-timeout-s", type=float, default=120.0)
    ap.add_argument(
        "--grace-s",
        type=float,
        default=30.0,
        help="cancel requests still in flight this long after a phase ends",
    )
    ap.add_argument("--max-run-s", type=float, default=1800.0, help="hard cap on the whole run")
    ap.add_argument("--orchestrion-bin", default=str(REPO_ROOT / ".venv" / "bin" / "orchestrion"))
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument(
        "--worker-concurrency", type=int, default=8, help="--concurrency of `orchestrion worker` in *-split targets"
    )
    ap.add_argument("--keep-temp", action="store_true", help="keep databases and server logs")
    ap.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="the OpenAPI document Prism mocks (prism target)"
    )
    ap.add_argument("--limit-pg-pool", type=int, default=16, help="connections of the asyncpg limit apps' pool")
    ap.add_argument(
        "--compare-bin", type=Path, help="another checkout's orchestrion executable (sqlite-compare, postgres-compare)"
    )
    ap.add_argument("--profile", type=Path, help="py-spy every target during POST, GET and inbound; files go here")
    ap.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument(
        "--rounds", type=int, default=1, help="run all targets this many times, interleaved; report medians"
    )
    args = ap.parse_args(argv)
    if args.profile is not None:
        if (missing := profile.available()) is not None:
            ap.error(f"--profile: {missing}")
        args.profile.mkdir(parents=True, exist_ok=True)
    try:
        names = resolve(args.targets)
    except KeyError as unknown:
        ap.error(f"unknown target {unknown}; known: {', '.join([*TARGETS, *ALIASES])}")
    args.target_names = names
    args.phase_list = [p.strip() for p in args.phases.split(",") if p.strip()]
    for phase in args.phase_list:
        if phase not in PHASES:
            ap.error(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
    if "get" in args.phase_list and "post" not in args.phase_list:
        ap.error("--phases: get reads the actions of the post phase; add post")
    if not args.phase_list:
        ap.error("--phases: none given")
    positive = (
        "actions",
        "concurrency",
        "latency_concurrency",
        "latency_actions",
        "rounds",
        "inbound_messages",
        "inbound_customers",
        "page_size",
        "page_depth",
    )
    for flag in (*positive, "limit_pg_pool"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be >= 1")
    if args.inbound_customers > 10_000:
        ap.error("--inbound-customers: at most 10,000 (four digits of a test number)")
    return args


async def run(args: argparse.Namespace, procs: ProcessRegistry, workdir: Path) -> list[dict[str, Any]]:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    server_cpus: set[int] | None = None
    if args.client_cpu is not None:
        all_cpus = os.sched_getaffinity(0)
        server_cpus = (all_cpus - {args.client_cpu}) or all_cpus
        os.sched_setaffinity(0, {args.client_cpu})
    ctx = RunContext(
        args, workdir, procs,
        account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16),
        server_cpus=server_cpus,
    )  # fmt: skip
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in args.target_names}
    async with asyncio.timeout(args.max_run_s):
        # Interleaved, so that drift in the machine's speed hits every target alike.
        for i in range(args.rounds):
            for name in args.target_names:
                if args.rounds > 1:
                    log(f"round {i + 1}/{args.rounds}")
                rounds[name].append(await bench_target(ctx, TARGETS[name]))
    return [merge_rounds(r) for r in rounds.values()]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    procs = ProcessRegistry()
    atexit.register(procs.stop_all)
    workdir = Path(tempfile.mkdtemp(prefix="orchestrion-bench-"))
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.client_loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results = runner.run(run(args, procs, workdir))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; servers stopped", file=sys.stderr)
        return 130
    except TimeoutError:
        print(f"stopped: the run exceeded --max-run-s {args.max_run_s:g}", file=sys.stderr)
        return 124
    finally:
        procs.stop_all()
        if args.keep_temp:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    meta = {
        "concurrency": args.concurrency,
        "duration_s": args.duration_s,
        "warmup_s": args.warmup_s,
        "actions": args.actions,
        "latency_concurrency": args.latency_concurrency,
        "latency_actions": args.latency_actions,
        "poll_ms": args.poll_ms,
        "client": args.client,
        "client_loop": args.client_loop,
        "client_cpu": args.client_cpu,
        "rounds": args.rounds,
        "phases": args.phase_list,
        "inbound_messages": args.inbound_messages,
        "inbound_customers": args.inbound_customers,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    table = markdown_table(results)
    print(
        f"\nconcurrency {args.concurrency}, {args.duration_s:g}s per phase, client {args.client}"
        f"/{args.client_loop}, {os.cpu_count()} CPUs, create->terminal with "
        f"{args.latency_concurrency} probes polling every {args.poll_ms:g} ms\n"
    )
    print(table)
    goals = goals_table(results)
    if goals:
        print("\n" + goals)
    for note in notes(results):
        print("\n" + note)
    if args.json:
        args.json.write_text(orjson.dumps({"meta": meta, "results": results},
                                          option=orjson.OPT_INDENT_2).decode())  # fmt: skip
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
