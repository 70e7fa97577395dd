"""CPU cost of metrics and of tracing on the hot GET, in process: no sockets, no load generator.

Builds three applications on one SQLite file (metrics off; metrics on; metrics on and
tracing on, its spans exported by OTLP/HTTP to a no-op collector on loopback), then
calls each one's ASGI entry point with ``GET /v2/Conversations/{id}/Actions/{id}``
for a COMPLETED action, in interleaved rounds, and reports the CPU time
(``time.process_time``: this process only, so other processes on a shared
machine disturb it far less than wall-clock throughput) per request, the
median over rounds, and the difference. This isolates what metrics add to one
request; bench_actions.py measures the same thing end to end over HTTP.

    .venv/bin/python bench/metrics_overhead.py --requests 20000 --rounds 7

On a machine too busy for CPU times to mean much, count instructions
instead (deterministic): ``--only on`` / ``--only off`` runs one application
only, so that under ``valgrind --tool=callgrind`` the difference between two
request counts, divided by the difference in requests, is the instructions per
request (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from orchestrion_bench import collector  # noqa: E402

from orchestrion.domain import ids  # noqa: E402
from orchestrion.domain.models import Action, ActionStatus, Configuration, Conversation, ConversationStatus  # noqa: E402
from orchestrion.runtime import Runtime  # noqa: E402
from orchestrion.services import accounts  # noqa: E402
from orchestrion.settings import Settings  # noqa: E402
from orchestrion.store.migrate import upgrade  # noqa: E402


async def _arrange(runtime: Runtime) -> tuple[str, str, str]:
    """An account with one COMPLETED action; (path, user, password)."""
    creds = await accounts.create_account(runtime.ctx)
    now = runtime.ctx.clock.now_ms()
    configuration = Configuration(
        ids.new_id(ids.CONFIGURATION), creds.sid, "bench", "", "GROUP_BY_PARTICIPANT_ADDRESSES", "mem_store_x", {}, 1,
        now, now,
    )  # fmt: skip
    conversation = Conversation(
        ids.new_id(ids.CONVERSATION), creds.sid, configuration.id, 1, {}, ConversationStatus.ACTIVE, None, {}, None,
        now, now,
    )  # fmt: skip
    action = Action(
        ids.new_id(ids.ACTION), conversation.id, creds.sid, "SEND_MESSAGE", ActionStatus.COMPLETED,
        {"messageSid": "SM" + "0" * 32}, {}, None, now, now, now,
    )  # fmt: skip
    async with runtime.ctx.store.write() as tx:
        await tx.configurations.insert(configuration)
        await tx.conversations.insert(conversation, last_activity_ms=now)
        await tx.actions.insert(action)
    return f"/v2/Conversations/{conversation.id}/Actions/{action.id}", creds.sid, creds.secret


async def _call(app: Any, scope: dict[str, Any]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def _round(app: Any, scope: dict[str, Any], n: int) -> float:
    """CPU microseconds per request over ``n`` requests."""
    gc.collect()
    started = time.process_time()
    for _ in range(n):
        await _call(app, scope)
    return (time.process_time() - started) / n * 1e6


async def main(requests: int, rounds: int, only: str | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="orchestrion-metrics-bench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    base = Settings(database_url=url, secret_key="bench", log_level="warning")
    runtimes = {
        "off": Runtime.build(base.with_overrides(metrics=False)),
        "on": Runtime.build(base),
        "tracing": Runtime.build(base, tracer=_otlp_tracer()),
        "sampled": Runtime.build(base, tracer=_otlp_tracer(ratio=0.1)),
    }
    path, user, password = await _arrange(runtimes["on"])
    apps = {name: runtime.app(run_worker=False) for name, runtime in runtimes.items()}
    auth = b"Basic " + base64.b64encode(f"{user}:{password}".encode())
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", auth), (b"accept", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080), "state": {},
    }  # fmt: skip
    if only is not None:
        for _ in range(requests):
            await _call(apps[only], scope)
        return
    for name, app in apps.items():
        assert await _call(app, scope) == 200, name  # and warm: first calls build caches
        await _round(app, scope, min(requests, 2000))
    results: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order every round
            results[name].append(await _round(apps[name], scope, requests))
    for name in ("tracing", "sampled"):
        runtimes[name].ctx.tracer.shutdown()  # the export thread's CPU time counts in the rounds
    median = {name: statistics.median(values) for name, values in results.items()}
    off = median["off"]
    print(f"GET action status, in process, {requests} requests x {rounds} rounds (median CPU us per request)")
    labels = {"off": "metrics off", "on": "metrics on", "tracing": "+ tracing, all", "sampled": "+ tracing, 10 %"}
    for name, label in labels.items():
        change = (median[name] - off) / off * 100
        rounds_text = ", ".join(f"{v:.1f}" for v in results[name])
        print(f"  {label:16} {median[name]:7.1f} us ({change:+.1f} %)   rounds: {rounds_text}")
    for runtime in runtimes.values():
        await runtime.ctx.store.close()


def _otlp_tracer(ratio: float = 1.0) -> Any:
    """As ORCHESTRION_TRACING=on makes it; ``ratio`` < 1: OTEL_TRACES_SAMPLER=parentbased_traceidratio."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from orchestrion.telemetry.otel import OtelTracer

    if ratio < 1:
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(ratio)
    try:
        return OtelTracer(BatchSpanProcessor(OTLPSpanExporter(endpoint=collector.start() + "/v1/traces")))
    finally:
        os.environ.pop("OTEL_TRACES_SAMPLER", None)
        os.environ.pop("OTEL_TRACES_SAMPLER_ARG", None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--only", choices=["on", "off", "tracing", "sampled"], help="run only this application, untimed (for callgrind)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds, args.only))
