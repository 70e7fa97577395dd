"""Closed-loop load and what one phase of it measured: counts, errors, latencies, CPU."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrion_bench.client import NETWORK_ERRORS, Client, Request
from orchestrion_bench.cpu import CpuMeter

# Safety net on top of the duration bound: no phase ever sends more than this.
MAX_REQUESTS_PER_PHASE = 5_000_000


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, int(q / 100.0 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def summarize(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    s = sorted(latencies_ms)
    return {
        "p50_ms": percentile(s, 50),
        "p90_ms": percentile(s, 90),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1] if s else None,
        "mean_ms": sum(s) / len(s) if s else None,
    }


@dataclass
class PhaseStats:
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    elapsed_s: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def error(self, kind: str, sample: str = "") -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(f"{kind}: {sample[:300]}")

    def report(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": dict(self.errors),
            "error_samples": self.error_samples,
            "elapsed_s": self.elapsed_s,
            "rps": self.ok / self.elapsed_s if self.elapsed_s else None,
            **summarize(self.latencies_ms),
            **self.cpu,
            **self._cpu_per_request(),
        }

    def _cpu_per_request(self) -> dict[str, float]:
        """CPU microseconds per successful request: the target's processes, and its PostgreSQL backends."""
        if not self.ok or not self.cpu:
            return {}
        per = self.elapsed_s / self.ok * 1e6 / 100  # pct -> us per request
        return {"server_cpu_us": self.cpu["server_cpu_pct"] * per, "db_cpu_us": self.cpu["db_cpu_pct"] * per}


async def gather_bounded(tasks: list[asyncio.Task[None]], limit_s: float, stats: PhaseStats) -> None:
    """Wait for workers; cancel any still stuck (a hung request) after ``limit_s``."""
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=limit_s)
    for t in pending:
        t.cancel()
        stats.error("timeout", "request still in flight at phase end")
    if pending:
        await asyncio.wait(pending)
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


async def closed_loop(
    clients: Sequence[Client],
    duration_s: float,
    next_request: Callable[[], Request | None],
    on_ok: Callable[[Request, bytes], None] | None,
    meter: Callable[[], CpuMeter],
    grace_s: float,
) -> PhaseStats:
    """Each client sends its next request as soon as the previous one answered."""
    stats = PhaseStats()
    cpu = meter()
    start = time.perf_counter()
    deadline = start + duration_s
    sent = itertools.count()

    async def worker(client: Client) -> None:
        pc = time.perf_counter
        lat = stats.latencies_ms
        while True:
            if pc() >= deadline or next(sent) >= MAX_REQUESTS_PER_PHASE:
                return
            req = next_request()
            if req is None:
                return
            t0 = pc()
            try:
                status, data = await client.request(*req)
            except NETWORK_ERRORS as exc:
                stats.error(type(exc).__name__, str(exc))
                await asyncio.sleep(0.01)
                continue
            t1 = pc()
            if 200 <= status < 300:
                stats.ok += 1
                lat.append((t1 - t0) * 1000.0)
                if on_ok is not None:
                    try:
                        on_ok(req, data)
                    except (ValueError, KeyError, TypeError) as exc:
                        stats.error("unexpected body", f"{exc}: {data[:200]!r}")
            else:
                stats.error(f"HTTP {status}", data.decode(errors="replace"))

    gc.disable()
    try:
        tasks = [asyncio.create_task(worker(c)) for c in clients]
        await gather_bounded(tasks, duration_s + grace_s, stats)
    finally:
        gc.enable()
    stats.elapsed_s = time.perf_counter() - start
    stats.cpu = cpu.stop()
    return stats
