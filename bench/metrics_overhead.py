"""CPU cost of metrics and of tracing on the Action endpoints, in process: no sockets, no load generator.

Builds four applications on one SQLite file (both off; metrics on; metrics on and
tracing every request; metrics on and tracing 10 % of traces, as
``OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1``),
the spans exported by OTLP/HTTP to a no-op collector in another process, then
calls each one's ASGI entry point with ``GET /v2/Conversations/{id}/Actions/{id}``
for a COMPLETED action and with ``POST .../Actions`` (SEND_MESSAGE; no worker
runs, so each is the validation and the transaction that stores the Action and
its job), in interleaved rounds, and reports the CPU time per request
(``time.process_time``: every thread of this process, so the span export
thread too, and no other process, so a shared machine disturbs it far less
than wall-clock throughput), the median over rounds, and the difference. Each
round ends by exporting its spans still queued. bench_actions.py measures the
same thing end to end over HTTP.

    .venv/bin/python bench/metrics_overhead.py --requests 20000 --rounds 7

On a machine too busy for CPU times to mean much, count instructions
instead (deterministic): ``--only off|on|tracing|sampled [--method POST]`` runs
one application only (and exports its spans before it ends), so that under
``valgrind --tool=callgrind`` the difference between two request counts,
divided by the difference in requests, is the instructions per request (see
bench/README.md).
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

import orjson  # noqa: E402
from orchestrion_bench import collector  # noqa: E402

from orchestrion import logs  # noqa: E402
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


async def _call(app: Any, scope: dict[str, Any], body: bytes = b"") -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


class _Phase:
    """One kind of request: its ASGI scope and body, and the status that means it was served."""

    def __init__(self, scope: dict[str, Any], body: bytes, status: int) -> None:
        self.scope, self.body, self.status = scope, body, status


async def _round(app: Any, phase: _Phase, n: int, tracer: Any) -> tuple[float, float]:
    """CPU microseconds per request over ``n`` requests, exporting their spans included: (all threads, the
    other threads than this one, i.e. the span export thread)."""
    gc.collect()
    started, started_here = time.process_time(), time.thread_time()
    for _ in range(n):
        await _call(app, phase.scope, phase.body)
    if tracer is not None:
        # Spans still queued are this round's: export them inside it (the exporting thread's CPU counts, as
        # process_time covers every thread), not in whichever round runs next.
        tracer.flush()
    here = time.thread_time() - started_here
    spent = time.process_time() - started
    return spent / n * 1e6, (spent - here) / n * 1e6


def _phases(path: str, auth: bytes) -> dict[str, _Phase]:
    headers = [(b"host", b"127.0.0.1"), (b"authorization", auth), (b"accept", b"application/json")]
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8080), "state": {},
    }  # fmt: skip
    actions = path.rsplit("/", 1)[0]
    body = orjson.dumps(
        {
            "type": "SEND_MESSAGE",
            "payload": {
                "from": {"address": "+15005550006", "channel": "SMS"},
                "to": [{"address": "+14155550100", "channel": "SMS"}],
                "content": {"text": "hi"},
            },
        }
    )
    post = {
        **scope, "method": "POST", "path": actions, "raw_path": actions.encode(),
        "headers": [*headers, (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    return {"GET": _Phase(scope, b"", 200), "POST": _Phase(post, body, 202)}


LABELS = {"off": "both off", "on": "metrics on", "tracing": "+ tracing, all", "sampled": "+ tracing, 10 %"}


async def main(requests: int, rounds: int, only: str | None, method: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="orchestrion-metrics-bench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    # No limit on Actions per conversation: every POST goes to the one conversation (the limit is not measured).
    base = Settings(database_url=url, secret_key="bench", log_level="warning", actions_per_conversation_per_second=0)
    logs.configure("warning")
    tracers = {"tracing": _CountingTracer.otlp(ratio=1.0), "sampled": _CountingTracer.otlp(ratio=0.1)}
    runtimes = {
        "off": Runtime.build(base.with_overrides(metrics=False)),
        "on": Runtime.build(base),
        "tracing": Runtime.build(base, tracer=tracers["tracing"].tracer),
        "sampled": Runtime.build(base, tracer=tracers["sampled"].tracer),
    }
    path, user, password = await _arrange(runtimes["on"])
    apps = {name: runtime.app(run_worker=False) for name, runtime in runtimes.items()}
    phases = _phases(path, b"Basic " + base64.b64encode(f"{user}:{password}".encode()))
    if only is not None:
        phase = phases[method]
        for _ in range(requests):
            await _call(apps[only], phase.scope, phase.body)
        for counting in tracers.values():
            counting.flush()  # this run's spans are encoded and sent within it
        return
    for name, app in apps.items():
        for phase in phases.values():
            assert await _call(app, phase.scope, phase.body) == phase.status, name  # and warm: first calls build caches
            await _round(app, phase, min(requests, 2000), tracers.get(name))
    for counting in tracers.values():
        counting.reset()
    results: dict[tuple[str, str], list[float]] = {(p, name): [] for p in phases for name in apps}
    others: dict[tuple[str, str], list[float]] = {(p, name): [] for p in phases for name in apps}
    names = list(apps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order every round
            for method, phase in phases.items():
                spent, other = await _round(apps[name], phase, requests, tracers.get(name))
                results[method, name].append(spent)
                others[method, name].append(other)
    print(f"In process, {requests} requests x {rounds} rounds; median CPU us per request (and requests/s per core);")
    print("'export': of which in other threads than the event loop's (the span export thread)")
    for method in phases:
        off = statistics.median(results[method, "off"])
        for name, label in LABELS.items():
            values = results[method, name]
            median = statistics.median(values)
            rounds_text = ", ".join(f"{v:.1f}" for v in values)
            print(
                f"  {method:4} {label:16} {median:7.1f} us {1e6 / median:6.0f}/s ({(median - off) / off * 100:+5.1f} %)"
                f"  export {statistics.median(others[method, name]):5.1f} us   rounds: {rounds_text}"
            )
    for name, counting in tracers.items():
        print(f"  spans ({LABELS[name]}): {counting.report()}")
        runtimes[name].ctx.tracer.shutdown()
    for runtime in runtimes.values():
        await runtime.ctx.store.close()


class _CountingTracer:
    """The tracer ORCHESTRION_TRACING=on makes, exporting to a no-op collector in another process, counting
    the spans ended and exported (so a dropped span cannot make tracing look cheaper than it is)."""

    def __init__(self, tracer: Any, processor: Any, exporter: Any) -> None:
        self.tracer, self._processor, self._exporter = tracer, processor, exporter

    @classmethod
    def otlp(cls, ratio: float) -> _CountingTracer:
        """``ratio`` < 1: as with OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=ratio."""
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

        from orchestrion.telemetry.otel import FastOTLPSpanExporter, OtelTracer

        class Exporter(FastOTLPSpanExporter):
            exported = 0

            def export(self, spans: Any) -> SpanExportResult:
                result = super().export(spans)
                if result is SpanExportResult.SUCCESS:
                    self.exported += len(spans)
                return result

        class Processor(BatchSpanProcessor):
            ended = 0

            def on_end(self, span: ReadableSpan) -> None:
                self.ended += 1
                super().on_end(span)

        exporter = Exporter(endpoint=collector.start_process() + "/v1/traces")
        processor = Processor(exporter)
        if ratio < 1:
            os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
            os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(ratio)
        try:
            return cls(OtelTracer(processor), processor, exporter)
        finally:
            os.environ.pop("OTEL_TRACES_SAMPLER", None)
            os.environ.pop("OTEL_TRACES_SAMPLER_ARG", None)

    def flush(self) -> None:
        self._processor.force_flush()

    def reset(self) -> None:
        self._processor.ended = self._exporter.exported = 0

    def report(self) -> str:
        ended, exported = self._processor.ended, self._exporter.exported
        return f"{ended} ended, {exported} exported" + ("" if ended == exported else " (SOME DROPPED)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--only", choices=["on", "off", "tracing", "sampled"], help="run only this application, untimed (for callgrind)"
    )
    parser.add_argument("--method", choices=["GET", "POST"], default="GET", help="with --only: which request")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds, args.only, args.method))
