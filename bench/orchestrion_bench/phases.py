"""One target, end to end: setup, POST, drain, GET, create->terminal, inbound, pages (see bench/README.md)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from orchestrion_bench.api import (
    TERMINAL,
    ApiError,
    count_inbound,
    create_configuration,
    create_conversations,
    drain,
    status_of,
)
from orchestrion_bench.client import NETWORK_ERRORS, Client, ClientPool, Request
from orchestrion_bench.cpu import CpuMeter
from orchestrion_bench.feeds import INBOUND_TO, ActionFeed, InboundFeed
from orchestrion_bench.load import PhaseStats, closed_loop, gather_bounded
from orchestrion_bench.pages import pages_phase
from orchestrion_bench.processes import log_tail
from orchestrion_bench.profile import profiled
from orchestrion_bench.running import RunContext, Running, Skipped, TargetSpec, stop_running, wait_ready
from orchestrion_bench.stamps import completed_at, stamped_latencies

PHASES = ("post", "get", "e2e", "inbound", "pages")
DEFAULT_PHASES = ("post", "get", "e2e", "inbound")  # pages seeds 100,000 rows: asked for by name
# At most this many actions per conversation over a whole run, so that even a
# burst cannot trip a per-conversation rate limit of 30 actions/s.
ACTIONS_PER_CONVERSATION = 20


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def bench_target(ctx: RunContext, spec: TargetSpec) -> dict[str, Any]:
    args = ctx.args
    c = args.concurrency
    log(f"{spec.name}: starting ({spec.description})")
    result: dict[str, Any] = {
        "target": spec.name,
        "description": spec.description,
        "kind": spec.kind,
        "backend": spec.backend,
    }
    mark = ctx.procs.mark()
    try:
        running = await spec.start(ctx)
    except Skipped as why:
        await asyncio.to_thread(ctx.procs.stop_all, mark)
        result["skipped"] = str(why)
        log(f"{spec.name}: skipped: {why}")
        return result
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next target
        await asyncio.to_thread(ctx.procs.stop_all, mark)
        result["error"] = f"{type(exc).__name__}: {exc}"
        log(f"{spec.name}: FAILED to start: {result['error']}")
        return result
    try:
        await wait_ready(running, args.startup_timeout_s)

        def meter() -> CpuMeter:
            return CpuMeter(running.pids, running.db_tag)

        def pool(size: int) -> ClientPool:
            return ClientPool(args.client, running.host, running.port, running.auth_header, size)

        phases = set(args.phase_list) & (spec.phases or set(PHASES))
        # --- setup
        n_conv = max(1, -(-(args.actions + args.latency_actions) // ACTIONS_PER_CONVERSATION))
        conversations: list[str] = []
        budget: int | None = None
        if not phases & {"post", "get", "e2e"}:
            pass  # no action phase: no conversations needed
        elif running.stores_actions:
            p = pool(c)
            try:
                t0 = time.perf_counter()
                config_id = await create_configuration(p.clients[0], args.setup_timeout_s)
                async with asyncio.timeout(args.setup_timeout_s):
                    conversations = await create_conversations(p.clients, config_id, n_conv)
                result["setup"] = {
                    "conversations": len(conversations),
                    "seconds": time.perf_counter() - t0,
                }
            finally:
                await p.aclose()
            log(f"{spec.name}: {len(conversations)} conversations in "
                 f"{result['setup']['seconds']:.1f}s")  # fmt: skip
            budget = args.actions
        else:
            conversations = [f"conv_conversation_baseline{i:06d}" for i in range(n_conv)]
        feed = ActionFeed(conversations or ["none"], budget)
        action_paths: list[str] = []
        if "post" in phases:
            await _post_get_phases(ctx, spec, running, result, feed, budget, action_paths, meter, pool, "get" in phases)
        if "e2e" in phases:
            await _e2e_phase(ctx, spec, running, result, feed, meter, pool)
        if "inbound" in phases:
            await _inbound_phase(ctx, spec, running, result, meter, pool)
        if "pages" in phases:
            await pages_phase(ctx, running, result, meter, pool, log)
        for p_ in running.procs:
            if p_.poll() is not None:
                result["warning"] = f"process exited with {p_.returncode} during the run"
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next target
        result["error"] = f"{type(exc).__name__}: {exc}"
        log(f"{spec.name}: FAILED {result['error']}\n{log_tail(running.log_paths)}")
    finally:
        await stop_running(ctx, running)
        gc.collect()
    return result


async def _post_get_phases(
    ctx: RunContext,
    spec: TargetSpec,
    running: Running,
    result: dict[str, Any],
    feed: ActionFeed,
    budget: int | None,
    action_paths: list[str],
    meter: Callable[[], CpuMeter],
    pool: Callable[[int], ClientPool],
    with_get: bool,
) -> None:
    args = ctx.args
    c = args.concurrency
    # --- POST

    def on_created(req: Request, data: bytes) -> None:
        action_paths.append(f"{req[1]}/{orjson.loads(data)['id']}")

    p = pool(c)
    try:
        if args.warmup_s > 0:
            # Warmup may take at most a tenth of the action budget.
            warm_cap = args.actions // 10

            def next_warm() -> Request | None:
                return feed.next() if budget is None or feed.used < warm_cap else None

            await closed_loop(p.clients, args.warmup_s, next_warm, on_created, meter, 10)
        post_start = time.perf_counter()
        async with profiled(ctx, running, "post"):
            post = await closed_loop(p.clients, args.duration_s, feed.next, on_created, meter, args.grace_s)
    finally:
        await p.aclose()
    result["post"] = post.report()
    log(f"{spec.name}: POST {post.ok} ok in {post.elapsed_s:.1f}s, errors {dict(post.errors)}")
    if not action_paths:
        raise ApiError("no action was created; samples: " + "; ".join(post.error_samples))

    # --- drain the dispatch backlog before reading, so GET runs on a quiet server
    if running.stores_actions:
        p = pool(c)
        try:
            d = await drain(p.clients, action_paths, args.drain_timeout_s)
        finally:
            await p.aclose()
        d["since_post_start_s"] = time.perf_counter() - post_start
        result["drain"] = d
        log(f"{spec.name}: drain {d}")

    if with_get:
        # --- GET
        n_paths = len(action_paths)
        counter = itertools.count()
        # A stride coprime with the count visits every action, in a scattered order.
        stride = next(s for s in itertools.count(7919) if math.gcd(s, n_paths) == 1)

        def next_get() -> Request:
            return ("GET", action_paths[(next(counter) * stride) % n_paths], None)

        p = pool(c)
        try:
            if args.warmup_s > 0:
                await closed_loop(p.clients, args.warmup_s, next_get, None, meter, 10)
            async with profiled(ctx, running, "get"):
                get = await closed_loop(p.clients, args.duration_s, next_get, None, meter, args.grace_s)
        finally:
            await p.aclose()
        result["get"] = get.report()
        log(f"{spec.name}: GET {get.ok} ok in {get.elapsed_s:.1f}s, errors {dict(get.errors)}")


async def _e2e_phase(
    ctx: RunContext,
    spec: TargetSpec,
    running: Running,
    result: dict[str, Any],
    feed: ActionFeed,
    meter: Callable[[], CpuMeter],
    pool: Callable[[int], ClientPool],
) -> None:
    args = ctx.args
    feed.extend(args.latency_actions)  # keeps the round-robin going: <= 20 per conversation
    p = pool(args.latency_concurrency)
    try:
        e2e, extra = await create_to_terminal(
            p.clients, feed, args.duration_s, args.latency_actions,
            args.poll_ms / 1000.0, args.action_timeout_s, meter,
        )  # fmt: skip
    finally:
        await p.aclose()
    sent_ms = extra.pop("sent_ms")
    assert isinstance(sent_ms, dict)
    if running.database_url is not None:
        extra.update(stamped_latencies(sent_ms, await completed_at(running.database_url, list(sent_ms))))
    result["e2e"] = {**e2e.report(), **extra}
    log(f"{spec.name}: e2e {e2e.ok} terminal, errors {dict(e2e.errors)}")
    result["total_actions_created"] = feed.used if running.stores_actions else None


async def _inbound_phase(
    ctx: RunContext,
    spec: TargetSpec,
    running: Running,
    result: dict[str, Any],
    meter: Callable[[], CpuMeter],
    pool: Callable[[int], ClientPool],
) -> None:
    """Signed inbound webhooks in a closed loop; then count the Communications they became."""
    args = ctx.args
    c = args.concurrency
    config_id: str | None = None
    if running.stores_actions:
        p = pool(1)
        try:
            config_id = await create_configuration(
                p.clients[0], args.setup_timeout_s,
                displayName="bench inbound",
                conversationGroupingType="GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE",
                channelSettings={"SMS": {"captureRules": [{"from": "*", "to": INBOUND_TO}]}},
            )  # fmt: skip
        finally:
            await p.aclose()
    # The baseline cycles over a small set; a real target gets one unique message per request.
    n = args.inbound_messages if running.stores_actions else min(args.inbound_messages, 5000)
    feed = InboundFeed(
        running.base_url, ctx.account_sid, ctx.auth_token, n, cycle=not running.stores_actions,
        customers=args.inbound_customers,
    )  # fmt: skip
    p = pool(c)
    try:
        if args.warmup_s > 0:
            warm_cap = n // 10

            def next_warm() -> Request | None:
                return feed.next() if not running.stores_actions or feed.used < warm_cap else None

            await closed_loop(p.clients, args.warmup_s, next_warm, feed.on_ok, meter, 10)
        async with profiled(ctx, running, "inbound"):
            inbound = await closed_loop(p.clients, args.duration_s, feed.next, feed.on_ok, meter, args.grace_s)
    finally:
        await p.aclose()
    result["inbound"] = {**inbound.report(), "accepted": feed.accepted if running.stores_actions else None}
    log(f"{spec.name}: INBOUND {inbound.ok} ok in {inbound.elapsed_s:.1f}s, errors {dict(inbound.errors)}")
    if config_id is not None:
        p = pool(min(c, 8))
        try:
            counted = await count_inbound(p.clients, config_id, feed.sids[: feed.used], args.setup_timeout_s)
        finally:
            await p.aclose()
        result["inbound"].update(counted)
        log(f"{spec.name}: inbound check {counted} (accepted {feed.accepted})")
        if counted["communications"] != feed.accepted:
            result["inbound"]["mismatch"] = True


async def create_to_terminal(
    clients: Sequence[Client],
    feed: ActionFeed,
    duration_s: float,
    max_actions: int,
    poll_s: float,
    action_timeout_s: float,
    meter: Callable[[], CpuMeter],
) -> tuple[PhaseStats, dict[str, Any]]:
    """POST an action, then GET it (at once, then every ``poll_s``) until terminal."""
    stats = PhaseStats()
    extra: Counter[str] = Counter()
    sent_ms: dict[str, float] = {}  # wall clock when each probe's POST left, by Action id (see stamps)
    started = itertools.count()
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker(client: Client) -> None:
        pc = time.perf_counter
        while pc() < deadline and next(started) < max_actions:
            req = feed.next()
            if req is None:
                return
            t0 = pc()
            wall0 = time.time() * 1000.0
            try:
                status, data = await client.request(*req)
                if not 200 <= status < 300:
                    stats.error(f"POST HTTP {status}", data.decode(errors="replace"))
                    continue
                action_id = orjson.loads(data)["id"]
                sent_ms[action_id] = wall0
                path = f"{req[1]}/{action_id}"
                polls = 0
                while True:
                    status, data = await client.request("GET", path)
                    polls += 1
                    state = status_of(data) if status == 200 else None
                    if status != 200:
                        stats.error(f"GET HTTP {status}", data.decode(errors="replace"))
                    if state in TERMINAL:
                        stats.ok += 1
                        stats.latencies_ms.append((pc() - t0) * 1000.0)
                        extra["polls"] += polls
                        extra[state or ""] += 1
                        break
                    if pc() - t0 > action_timeout_s:
                        stats.error("not terminal in time", path)
                        break
                    await asyncio.sleep(poll_s)
            except (*NETWORK_ERRORS, KeyError, orjson.JSONDecodeError) as exc:
                stats.error(type(exc).__name__, str(exc))
                await asyncio.sleep(0.01)

    cpu = meter()
    tasks = [asyncio.create_task(worker(c)) for c in clients]
    await gather_bounded(tasks, duration_s + action_timeout_s + 5, stats)
    stats.elapsed_s = time.perf_counter() - start
    stats.cpu = cpu.stop()
    return stats, {
        "completed": extra["COMPLETED"],
        "failed": extra["FAILED"],
        "mean_polls": extra["polls"] / stats.ok if stats.ok else None,
        "sent_ms": sent_ms,
    }
