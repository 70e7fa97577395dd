"""The named targets a run can measure, and the names that stand for several."""

from __future__ import annotations

from orchestrion_bench import bare, prism
from orchestrion_bench.orchestrion import pg_target, sqlite_target, tracing_target, twilio_target
from orchestrion_bench.running import TargetSpec

_BARE = "bare ASGI app under uvicorn (uvloop, httptools, 1 worker)"
_LIMIT_PHASES = frozenset({"post", "get"})
_NO_ADMISSION = {"ORCHESTRION_SEND_ADMISSION_WAIT_MS": "0"}

# Add new setups here; the name is also the column label in the report.
TARGETS: dict[str, TargetSpec] = {
    t.name: t
    for t in [
        TargetSpec("baseline", _BARE, bare.start_baseline, kind="floor"),
        TargetSpec("sqlite-insert", f"{_BARE} + one SQLite INSERT per POST, PK SELECT per GET (WAL, NORMAL)",
                   bare.sqlite_limit("sqlite-insert", group_commit=False), _LIMIT_PHASES, "limit", "sqlite"),
        TargetSpec("sqlite-group", f"{_BARE} + SQLite INSERTs group-committed",
                   bare.sqlite_limit("sqlite-group", group_commit=True), _LIMIT_PHASES, "limit", "sqlite"),
        TargetSpec("asyncpg", f"{_BARE} + asyncpg pool, prepared INSERT per POST, PK SELECT per GET",
                   bare.asyncpg_limit("asyncpg", group_commit=False), _LIMIT_PHASES, "limit", "postgresql"),
        TargetSpec("asyncpg-group", f"{_BARE} + asyncpg INSERTs group-committed",
                   bare.asyncpg_limit("asyncpg-group", group_commit=True), _LIMIT_PHASES, "limit", "postgresql"),
        TargetSpec("prism", f"Prism ({prism.PACKAGE}) mocking the reference document, Node.js",
                   prism.start_prism, prism.PHASES, "peer"),
        TargetSpec("sqlite-1proc", "orchestrion serve, SQLite, in-process dispatch",
                   sqlite_target("sqlite-1proc"), backend="sqlite"),
        TargetSpec("sqlite-no-admission", "sqlite-1proc with ORCHESTRION_SEND_ADMISSION_WAIT_MS=0 (no backpressure)",
                   sqlite_target("sqlite-no-admission", env=_NO_ADMISSION), backend="sqlite"),
        TargetSpec("sqlite-metrics-off", "sqlite-1proc with ORCHESTRION_METRICS=off (no /metrics, no middleware)",
                   sqlite_target("sqlite-metrics-off", env={"ORCHESTRION_METRICS": "off"}), backend="sqlite"),
        TargetSpec("sqlite-tracing", "sqlite-1proc with ORCHESTRION_TRACING=on, OTLP to a no-op collector",
                   tracing_target("sqlite-tracing"), backend="sqlite"),
        TargetSpec("sqlite-tracing-10", "sqlite-tracing sampling 10 % of traces (parentbased_traceidratio, 0.1)",
                   tracing_target("sqlite-tracing-10", sample_ratio=0.1), backend="sqlite"),
        TargetSpec("sqlite-twilio",
                   "sqlite-1proc, SMS through the twilio provider to its own Messages API (loopback)",
                   twilio_target("sqlite-twilio"), backend="sqlite"),
        TargetSpec("sqlite-twilio-stub",
                   "sqlite-1proc, SMS through the twilio provider to bench/messages_api_stub.py (loopback)",
                   twilio_target("sqlite-twilio-stub", stub=True), backend="sqlite"),
        TargetSpec("sqlite-w2", "orchestrion serve --workers 2, SQLite",
                   sqlite_target("sqlite-w2", ["--workers", "2"]), backend="sqlite"),
        TargetSpec("sqlite-split", "serve --no-worker + 1 orchestrion worker process, SQLite",
                   sqlite_target("sqlite-split", ["--no-worker"], worker_processes=1), backend="sqlite"),
        TargetSpec("postgres-1proc", "orchestrion serve, PostgreSQL, in-process dispatch",
                   pg_target("postgres-1proc"), backend="postgresql"),
        TargetSpec("sqlite-compare", "as sqlite-1proc, with the orchestrion of --compare-bin",
                   sqlite_target("sqlite-compare", compare=True), backend="sqlite"),
        TargetSpec("postgres-compare", "as postgres-1proc, with the orchestrion of --compare-bin",
                   pg_target("postgres-compare", compare=True), backend="postgresql"),
        TargetSpec("postgres-no-admission", "postgres-1proc with ORCHESTRION_SEND_ADMISSION_WAIT_MS=0",
                   pg_target("postgres-no-admission", env=_NO_ADMISSION), backend="postgresql"),
        TargetSpec("postgres-pool16", "orchestrion serve, PostgreSQL, ORCHESTRION_DB_POOL_SIZE=16",
                   pg_target("postgres-pool16", env={"ORCHESTRION_DB_POOL_SIZE": "16"}), backend="postgresql"),
        TargetSpec("postgres-w2", "orchestrion serve --workers 2, PostgreSQL",
                   pg_target("postgres-w2", ["--workers", "2"]), backend="postgresql"),
        TargetSpec("postgres-split", "serve --no-worker + 1 orchestrion worker process, PostgreSQL",
                   pg_target("postgres-split", ["--no-worker"], worker_processes=1), backend="postgresql"),
        TargetSpec("postgres-2api-2workers",
                   "serve --workers 2 --no-worker + 2 orchestrion worker processes, PostgreSQL",
                   pg_target("postgres-2api-2workers", ["--workers", "2", "--no-worker"], worker_processes=2),
                   backend="postgresql"),
    ]
}  # fmt: skip

ALIASES: dict[str, list[str]] = {
    "sqlite": ["sqlite-1proc"],
    "postgres": ["postgres-1proc"],
    "pg": ["postgres-1proc"],
    "limits-sqlite": ["sqlite-insert", "sqlite-group"],
    "limits-pg": ["asyncpg", "asyncpg-group"],
    "limits": ["sqlite-insert", "sqlite-group", "asyncpg", "asyncpg-group"],
}


def resolve(names: str) -> list[str]:
    """``baseline`` first, then each named target once, aliases expanded; KeyError for an unknown name."""
    out = ["baseline"]
    for raw in names.split(","):
        name = raw.strip()
        if not name:
            continue
        for one in ALIASES.get(name, [name]):
            if one not in TARGETS:
                raise KeyError(raw)
            if one not in out:
                out.append(one)
    return out
