"""The report: a table of every number (and its ratio to the floor of the same round), then issue 12's targets.

Rows are metrics, columns are targets, then one ``vs baseline`` column per
target. Below the table, each Orchestrion target is set against the limit of
its own backend in the same run (group commit for POST, the primary-key
SELECT for GET, the bare floor for inbound, Prism for POST and GET) and
marked pass or miss against the goals of issue 12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestrion_bench.rounds import Getter, ratio


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if unit == "rps":
            return f"{value:,.0f}"
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _get(result: dict[str, Any], *keys: str) -> Any:
    cur: Any = result
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def _field(*keys: str) -> Getter:
    return lambda r: _get(r, *keys)


def _joined(phase: str, *keys: str, fmt: str = "{}") -> Callable[[dict[str, Any]], Any]:
    def get(r: dict[str, Any]) -> str | None:
        values = [_get(r, phase, k) for k in keys]
        return None if None in values else "/".join(fmt.format(v) for v in values)

    return get


def _error_counts(r: dict[str, Any]) -> str | None:
    if not any(n in r for n in _PHASE_KEYS):
        return None
    return "/".join(str(sum((_get(r, n, "errors") or {}).values())) if n in r else "-" for n in _PHASE_KEYS)


_PHASE_KEYS = ("get", "post", "e2e", "inbound")
_CPU = ("client_cpu_pct", "server_cpu_pct", "db_cpu_pct", "other_cpu_pct", "host_cpu_pct")
# (label, getter, unit); rows with unit "rps", "ms" or "us" get a ratio to the baseline.
METRICS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("GET action status, req/s", _field("get", "rps"), "rps"),
    ("GET action status, p50 ms", _field("get", "p50_ms"), "ms"),
    ("GET action status, p99 ms", _field("get", "p99_ms"), "ms"),
    ("GET, server CPU us per request", _field("get", "server_cpu_us"), "us"),
    ("GET, PostgreSQL CPU us per request", _field("get", "db_cpu_us"), "us"),
    ("POST action, req/s", _field("post", "rps"), "rps"),
    ("POST action, p50 ms", _field("post", "p50_ms"), "ms"),
    ("POST action, p99 ms", _field("post", "p99_ms"), "ms"),
    ("POST, server CPU us per request", _field("post", "server_cpu_us"), "us"),
    ("POST, PostgreSQL CPU us per request", _field("post", "db_cpu_us"), "us"),
    ("create->terminal, p50 ms", _field("e2e", "p50_ms"), "ms"),
    ("create->terminal, p99 ms", _field("e2e", "p99_ms"), "ms"),
    ("create->COMPLETED as the server stamped it, p50 ms", _field("e2e", "stamped_p50_ms"), "ms"),
    ("create->COMPLETED as the server stamped it, p99 ms", _field("e2e", "stamped_p99_ms"), "ms"),
    ("create->terminal, polls per action", _field("e2e", "mean_polls"), ""),
    ("create->terminal, COMPLETED/FAILED", _joined("e2e", "completed", "failed"), ""),
    ("POST phase, seconds measured", _field("post", "elapsed_s"), ""),
    ("POST-phase actions COMPLETED/FAILED/not terminal",
     _joined("drain", "completed", "failed", "not_terminal"), ""),
    ("backlog drained, s after POST phase start", _field("drain", "since_post_start_s"), ""),
    ("inbound message -> Communication, req/s", _field("inbound", "rps"), "rps"),
    ("inbound message -> Communication, p50 ms", _field("inbound", "p50_ms"), "ms"),
    ("inbound message -> Communication, p99 ms", _field("inbound", "p99_ms"), "ms"),
    ("inbound, server CPU us per request", _field("inbound", "server_cpu_us"), "us"),
    ("inbound accepted (2xx) / Communications found / conversations",
     _joined("inbound", "accepted", "communications", "conversations"), ""),
    ("Conversations list, first page, req/s", _field("pages", "first", "rps"), "rps"),
    ("Conversations list, page at depth, req/s", _field("pages", "deep", "rps"), "rps"),
    ("Conversations list, page at depth, p50 ms", _field("pages", "deep", "p50_ms"), "ms"),
    ("Conversations list, depth / page size", _joined("pages", "depth", "page_size"), ""),
    ("Conversations list, page at depth ÷ first page (req/s; flat = 1)", _field("pages", "deep_over_first"), ""),
    ("errors GET/POST/create->terminal/inbound", _error_counts, ""),
    ("CPU % client/server/db/other/host, GET", _joined("get", *_CPU, fmt="{:.0f}"), ""),
    ("CPU % client/server/db/other/host, POST", _joined("post", *_CPU, fmt="{:.0f}"), ""),
    ("CPU % client/server/db/other/host, inbound", _joined("inbound", *_CPU, fmt="{:.0f}"), ""),
]  # fmt: skip


def markdown_table(results: list[dict[str, Any]]) -> str:
    base = next((r for r in results if r["target"] == "baseline"), None)
    others = [r for r in results if r is not base]
    header = ["metric"] + [r["target"] for r in results]
    header += [f"{r['target']} vs baseline" for r in others] if base else []
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for label, getter, unit in METRICS:
        if all(getter(r) is None for r in results):
            continue  # a phase left out with --phases
        row = [label] + [_fmt(getter(r), unit) for r in results]
        if base:
            for r in others:
                x = ratio(getter, r, base) if unit in ("rps", "ms", "us") else None
                row.append("" if x is None else f"{x:.3f}x")
        lines.append("| " + " | ".join(row) + " |")
    for r in results:
        if "error" in r:
            lines.append(f"\n**{r['target']} failed:** {r['error']}")
        if "skipped" in r:
            lines.append(f"\n**{r['target']} skipped:** {r['skipped']}")
    for r in results:
        for name in _PHASE_KEYS:
            for sample in _get(r, name, "error_samples") or []:
                lines.append(f"\n- {r['target']} {name} error sample: `{sample}`")
    return "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    """Orchestrion's ``metric`` must be at least ``at_least`` x the reference target's, in the same round."""

    label: str
    metric: Getter
    reference: dict[str, str]  # backend -> target to compare with
    at_least: dict[str, float]  # backend -> goal


_POST = _field("post", "rps")
_GET = _field("get", "rps")
_INBOUND = _field("inbound", "rps")
GOALS = [
    Goal("POST action vs the group-commit limit", _POST,
         {"sqlite": "sqlite-group", "postgresql": "asyncpg-group"}, {"sqlite": 0.5, "postgresql": 0.5}),
    Goal("POST action vs Prism", _POST, {"sqlite": "prism", "postgresql": "prism"}, {"sqlite": 1.0, "postgresql": 1.0}),
    Goal("GET action vs the PK-SELECT limit", _GET,
         {"sqlite": "sqlite-insert", "postgresql": "asyncpg"}, {"sqlite": 0.8, "postgresql": 0.8}),
    Goal("GET action vs Prism", _GET, {"sqlite": "prism", "postgresql": "prism"}, {"sqlite": 1.0, "postgresql": 1.0}),
    Goal("inbound message vs the bare floor", _INBOUND,
         {"sqlite": "baseline", "postgresql": "baseline"}, {"sqlite": 0.1, "postgresql": 0.05}),
]  # fmt: skip


def goals_table(results: list[dict[str, Any]]) -> str:
    """Each Orchestrion target against each goal of its backend: the ratio, the goal, pass or miss."""
    by_name = {r["target"]: r for r in results}
    lines = ["| Orchestrion target | goal (issue 12) | measured | wanted | |", "|---|---|---:|---:|---|"]
    for r in results:
        backend = r.get("backend")
        if r.get("kind") != "orchestrion" or backend is None:
            continue
        for goal in GOALS:
            name = goal.reference[backend]
            reference = by_name.get(name)
            wanted = goal.at_least[backend]
            if reference is None or "skipped" in reference or "error" in reference:
                why = (reference or {}).get("skipped") or (reference or {}).get("error") or f"add --targets {name}"
                lines.append(f"| {r['target']} | {goal.label} | n/a | {wanted:g}x | {why} |")
                continue
            x = ratio(goal.metric, r, reference)
            verdict = "phase not run" if x is None else ("pass" if x >= wanted else "miss")
            shown = "n/a" if x is None else f"{x:.3f}x {name}"
            lines.append(f"| {r['target']} | {goal.label} | {shown} | {wanted:g}x | {verdict} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def notes(results: list[dict[str, Any]]) -> list[str]:
    out = []
    base = next((r for r in results if r["target"] == "baseline" and "get" in r), None)
    if base is not None and base["get"]["rps"]:
        g = base["get"]
        per_req_us = g["client_cpu_pct"] / 100 / g["rps"] * 1e6
        out.append(
            f"Client ceiling (baseline GET): {_fmt(g['rps'], 'rps')} req/s, client at {g['client_cpu_pct']:.0f}% "
            f"CPU, baseline server at {g['server_cpu_pct']:.0f}% (100 = one core). The client costs "
            f"{per_req_us:.0f} us of CPU per request, so at R req/s it takes R x {per_req_us:.0f} us "
            "of the machine's two cores."
        )
    for r in results:
        if _get(r, "inbound", "mismatch"):
            out.append(
                f"Warning: {r['target']} accepted {r['inbound']['accepted']} inbound messages but "
                f"{r['inbound']['communications']} of them are Communications."
            )
        for phase in ("get", "post", "inbound"):
            other = _get(r, phase, "other_cpu_pct")
            if other is not None and other > 25:
                out.append(
                    f"Warning: other processes used {other:.0f}% CPU during {r['target']} {phase.upper()}; "
                    "its numbers are disturbed (run again on a quiet machine, or with --rounds)."
                )
    return out
