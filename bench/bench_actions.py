"""Load benchmark for Orchestrion's Actions endpoints and inbound webhook, relative to a bare ASGI floor.

Runs, against each target in turn (one server at a time on the machine):
  setup   one Configuration + enough Conversations (not measured)
  POST    closed-loop SEND_MESSAGE creation
  drain   wait until every created action is terminal (dispatch backlog)
  GET     closed-loop action-status reads of the actions created above
  e2e     create-to-terminal latency, polling each action
  inbound closed-loop signed Twilio webhooks (/twilio/{AccountSid}/messages)
          captured as Communications, then counted through the API

See bench/README.md for what every number means. Loopback only; every loop is
bounded in time and count; child processes are killed on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import contextlib
import gc
import hashlib
import hmac
import importlib.util
import itertools
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

if importlib.util.find_spec("sniffio") is None:
    # httpcore retries `import sniffio` on every request when it is missing, a
    # full sys.path scan each time (~0.3 ms); a None entry makes it fail fast.
    sys.modules["sniffio"] = None  # type: ignore[assignment]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
TERMINAL = frozenset({"COMPLETED", "FAILED"})
# Safety net on top of the duration bound: no phase ever sends more than this.
MAX_REQUESTS_PER_PHASE = 5_000_000
# At most this many actions per conversation over a whole run, so that even a
# burst cannot trip a per-conversation rate limit of 30 actions/s.
ACTIONS_PER_CONVERSATION = 20
MEMORY_STORE_ID = "mem_store_01jq7z8k9m0n1p2q3r4s5t6v7w"
FROM_ADDRESS = "+15005550006"
# Inbound phase: customers write to this number, from this many distinct numbers.
INBOUND_TO = FROM_ADDRESS
INBOUND_CUSTOMERS = 200
PHASES = ("post", "get", "e2e", "inbound")

# (method, path, body) or (method, path, body, extra header lines); the extra
# lines, when given, replace the default JSON Content-Type.
Request = tuple[str, str, bytes | None] | tuple[str, str, bytes | None, bytes]


# --------------------------------------------------------------------------
# HTTP clients


class Client(Protocol):
    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]: ...


_JSON_CT = b"Content-Type: application/json\r\n"


class RawConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    Far cheaper per request than httpx, which matters when the client shares
    two cores with the server (an asyncio.Protocol version measured no cheaper).
    Understands Content-Length and chunked bodies; reconnects lazily after an
    error or ``Connection: close``. One request in flight at a time.
    """

    def __init__(self, host: str, port: int, auth_header: bytes) -> None:
        self._host = host
        self._port = port
        self._tail = b" HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\nAccept: application/json\r\n" % (
            host.encode(),
            port,
            auth_header,
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]:
        """``headers``: extra raw header lines (each ending in CRLF), sent instead of the JSON Content-Type."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader, writer = self._reader, self._writer
        assert reader is not None
        if body is None:
            writer.write(b"%s %s%s\r\n" % (method.encode(), path.encode(), self._tail))
        else:
            writer.write(
                b"%s %s%s%sContent-Length: %d\r\n\r\n%s"
                % (method.encode(), path.encode(), self._tail, headers or _JSON_CT, len(body), body)
            )
        try:
            status, data, close = await self._read_response(reader)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, data

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        close = b"\r\nconnection: close" in lower
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            n = int(head[i + 17 : lower.index(b"\r\n", i + 2)])
            data = await reader.readexactly(n) if n else b""
        elif b"\r\ntransfer-encoding: chunked" in lower:
            parts: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                parts.append((await reader.readexactly(size + 2))[:-2])
            data = b"".join(parts)
        elif status in (204, 304) or status < 200:
            data = b""
        else:
            data = await reader.read()
            close = True
        return status, data, close

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class HttpxClient:
    """Adapter so the same worker code can drive a shared httpx.AsyncClient."""

    _JSON: ClassVar[dict[str, str]] = {"Content-Type": "application/json"}

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(
        self, method: str, path: str, body: bytes | None = None, headers: bytes = b""
    ) -> tuple[int, bytes]:
        if body is None:
            r = await self._client.request(method, path)
        else:
            extra = self._JSON
            if headers:
                lines = headers.decode().strip().split("\r\n")
                extra = dict(tuple(x.strip() for x in line.split(":", 1)) for line in lines)  # type: ignore[misc]
            r = await self._client.request(method, path, content=body, headers=extra)
        return r.status_code, r.content


class ClientPool:
    """``size`` keep-alive connections; worker i uses ``clients[i]``."""

    def __init__(self, kind: str, host: str, port: int, auth_header: bytes, size: int) -> None:
        self._raw: list[RawConnection] = []
        self._httpx: httpx.AsyncClient | None = None
        self.clients: list[Client]
        if kind == "raw":
            self._raw = [RawConnection(host, port, auth_header) for _ in range(size)]
            self.clients = list(self._raw)
        else:
            self._httpx = httpx.AsyncClient(
                base_url=f"http://{host}:{port}",
                headers={
                    "Authorization": auth_header.decode(),
                    "Accept": "application/json",
                },
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=httpx.Timeout(30.0),
                trust_env=False,
            )
            self.clients = [HttpxClient(self._httpx)] * size

    async def aclose(self) -> None:
        for c in self._raw:
            c.close()
        if self._httpx is not None:
            await self._httpx.aclose()


# --------------------------------------------------------------------------
# Measurement helpers


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


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, cpu seconds) for every live process."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        table[int(entry)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / _CLK_TCK,
        )
    return table


def descendants(table: dict[int, tuple[int, float]], roots: Sequence[int]) -> set[int]:
    """The given processes and all their live descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    stack = [r for r in roots if r in table]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, ()))
    return seen


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def host_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds over all cores since boot; steal counts as neither."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq = (int(v) for v in f.readline().split()[1:8])
    busy = user + nice + system + irq + softirq
    return busy / _CLK_TCK, (busy + idle + iowait) / _CLK_TCK


class CpuMeter:
    """CPU used during a phase by the client, the server tree, and everything else.

    "db" is PostgreSQL backends whose process title names the target's database.
    "other" is every other process on the machine (CI, editors, tests): when it
    is high, the numbers of that phase are not trustworthy. "host" is the whole
    machine, kernel work such as loopback TCP included; 100 = one core.
    """

    def __init__(self, server_pids: Sequence[int], db_tag: str | None = None) -> None:
        self._roots = list(server_pids)
        self._db_tag = db_tag.encode() if db_tag else None
        self._t = time.perf_counter()
        self._start = _proc_table()
        self._host = host_cpu_seconds()

    def stop(self) -> dict[str, float]:
        end = _proc_table()
        wall = max(time.perf_counter() - self._t, 1e-9)
        busy, total = host_cpu_seconds()
        me = os.getpid()
        server = descendants(end, self._roots) | descendants(self._start, self._roots)
        db = {p for p in end if self._db_tag and self._db_tag in _cmdline(p)} - server

        def pct(pids: set[int]) -> float:
            used = sum(end[p][1] - self._start.get(p, (0, 0.0))[1] for p in pids if p in end)
            return 100 * used / wall

        return {
            "client_cpu_pct": pct({me}),
            "server_cpu_pct": pct(server),
            "db_cpu_pct": pct(db),
            "other_cpu_pct": pct(set(end) - server - db - {me}),
            "host_cpu_pct": 100 * (busy - self._host[0]) / max(total - self._host[1], 1e-9) * (os.cpu_count() or 1),
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
        }


async def _gather_bounded(tasks: list[asyncio.Task[None]], limit_s: float, stats: PhaseStats) -> None:
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
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
                httpx.HTTPError,
            ) as exc:
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
        await _gather_bounded(tasks, duration_s + grace_s, stats)
    finally:
        gc.enable()
    stats.elapsed_s = time.perf_counter() - start
    stats.cpu = cpu.stop()
    return stats


# --------------------------------------------------------------------------
# Processes and targets


class ProcessRegistry:
    """Every child we start, so that any exit path can kill them all."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        argv: list[str],
        env: dict[str, str],
        log_path: Path,
        cpus: set[int] | None,
    ) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=log_path.parent,  # the temp dir: whatever a server writes beside it goes away with it
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg reaches its workers
            )
        self._procs.append(proc)
        if cpus:
            # Right after exec, before the server forks any worker that would inherit it.
            os.sched_setaffinity(proc.pid, cpus)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=timeout_s)
        # Also reap stragglers left in the group after the leader exited.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc in self._procs:
            self._procs.remove(proc)

    def mark(self) -> int:
        return len(self._procs)

    def stop_all(self, since: int = 0) -> None:
        for proc in self._procs[since:]:
            self.stop(proc, timeout_s=3.0)


@dataclass
class RunContext:
    args: argparse.Namespace
    workdir: Path
    procs: ProcessRegistry
    account_sid: str
    auth_token: str
    server_cpus: set[int] | None


@dataclass
class Running:
    label: str
    host: str
    port: int
    auth_header: bytes
    procs: list[subprocess.Popen[bytes]]
    log_paths: list[Path]
    # False for the baseline: it keeps nothing, so there is no setup, no drain
    # and no action budget to respect.
    stores_actions: bool
    cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    db_tag: str | None = None  # names this target's PostgreSQL backends (see CpuMeter)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


@dataclass(frozen=True)
class TargetSpec:
    name: str
    description: str
    start: Callable[[RunContext], Awaitable[Running]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def basic_auth(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def _child_env(ctx: RunContext) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ORCHESTRION_ACCOUNT_SID=ctx.account_sid,
        ORCHESTRION_AUTH_TOKEN=ctx.auth_token,
        ORCHESTRION_SANDBOX_STEP_MS="0",
        ORCHESTRION_LOG_LEVEL="warning",
        ORCHESTRION_SECRET_KEY_FILE=str(ctx.workdir / "orchestrion.key"),
    )
    src = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _orchestrion_argv(ctx: RunContext) -> list[str]:
    binary = Path(ctx.args.orchestrion_bin)
    if binary.exists():
        return [str(binary)]
    # Not pip-installed yet: run the CLI entry point from src/ directly.
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'orchestrion'; from orchestrion.cli import main; sys.exit(main())",
    ]


async def start_baseline(ctx: RunContext) -> Running:
    port = free_port()
    log = ctx.workdir / "baseline.log"
    argv = [
        sys.executable, "-m", "uvicorn", "baseline_app:app",
        "--app-dir", str(BENCH_DIR),
        "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--no-server-header", "--log-level", "warning", "--workers", "1",
    ]  # fmt: skip
    proc = ctx.procs.spawn(argv, _child_env(ctx), log, ctx.server_cpus)
    return Running(
        "baseline",
        HOST,
        port,
        basic_auth("x", "y"),
        [proc],
        [log],
        stores_actions=False,
    )


async def _start_orchestrion(
    ctx: RunContext,
    label: str,
    database_url: str,
    serve_flags: Sequence[str] = (),
    worker_processes: int = 0,
    extra_env: dict[str, str] | None = None,
) -> Running:
    port = free_port()
    env = {**_child_env(ctx), **(extra_env or {})}
    base = _orchestrion_argv(ctx)
    serve_log = ctx.workdir / f"{label}-serve.log"
    procs = [
        ctx.procs.spawn(
            [*base, "serve", "--host", HOST, "--port", str(port),
             "--database-url", database_url, *serve_flags],
            env, serve_log, ctx.server_cpus,
        )
    ]  # fmt: skip
    logs = [serve_log]
    running = Running(
        label, HOST, port, basic_auth(ctx.account_sid, ctx.auth_token), procs, logs,
        stores_actions=True,
    )  # fmt: skip
    if worker_processes:
        # Every orchestrion command migrates first; let serve do it alone.
        await wait_ready(running, ctx.args.startup_timeout_s)
    for i in range(worker_processes):
        log = ctx.workdir / f"{label}-worker{i}.log"
        procs.append(
            ctx.procs.spawn(
                [*base, "worker", "--database-url", database_url,
                 "--concurrency", str(ctx.args.worker_concurrency)],
                env, log, ctx.server_cpus,
            )
        )  # fmt: skip
        logs.append(log)
    return running


def _sqlite_url(ctx: RunContext, label: str) -> str:
    # A new file each time: with --rounds the same target starts again, on an empty database.
    return f"sqlite:///{ctx.workdir / (label + '-' + secrets.token_hex(4) + '.db')}"


async def _create_pg_database(
    ctx: RunContext,
) -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg  # only the postgres targets need it

    port = ctx.args.pg_port
    name = f"orchestrion_bench_{secrets.token_hex(6)}"
    last: Exception | None = None
    for user in ("root", "postgres"):
        try:
            conn = await asyncpg.connect(host=HOST, port=port, user=user, database="postgres", timeout=5)
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
        ) as exc:  # try the next role
            last = exc
            continue
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

        async def drop(user: str = user) -> None:
            c = await asyncpg.connect(host=HOST, port=port, user=user, database="postgres", timeout=5)
            try:
                await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await c.close()

        return f"postgresql://{user}@{HOST}:{port}/{name}", drop
    raise RuntimeError(f"cannot reach PostgreSQL on {HOST}:{port}: {last}")


def _pg_target(
    label: str, serve_flags: Sequence[str] = (), worker_processes: int = 0
) -> Callable[[RunContext], Awaitable[Running]]:
    async def start(ctx: RunContext) -> Running:
        url, drop = await _create_pg_database(ctx)
        try:
            running = await _start_orchestrion(ctx, label, url, serve_flags, worker_processes)
        except BaseException:
            await drop()
            raise
        running.cleanups.append(drop)
        running.db_tag = url.rsplit("/", 1)[1]
        return running

    return start


def _sqlite_target(
    label: str, serve_flags: Sequence[str] = (), worker_processes: int = 0, extra_env: dict[str, str] | None = None
) -> Callable[[RunContext], Awaitable[Running]]:
    async def start(ctx: RunContext) -> Running:
        return await _start_orchestrion(ctx, label, _sqlite_url(ctx, label), serve_flags, worker_processes, extra_env)

    return start


# Add new setups here; the name is also the column label in the report.
TARGETS: dict[str, TargetSpec] = {
    t.name: t
    for t in [
        TargetSpec("baseline", "bare ASGI app under uvicorn (uvloop, httptools, 1 worker)",
                   start_baseline),
        TargetSpec("sqlite-1proc", "orchestrion serve, SQLite, in-process dispatch",
                   _sqlite_target("sqlite-1proc")),
        TargetSpec("sqlite-metrics-off", "sqlite-1proc with ORCHESTRION_METRICS=off (no /metrics, no middleware)",
                   _sqlite_target("sqlite-metrics-off", extra_env={"ORCHESTRION_METRICS": "off"})),
        TargetSpec("sqlite-w2", "orchestrion serve --workers 2, SQLite",
                   _sqlite_target("sqlite-w2", ["--workers", "2"])),
        TargetSpec("sqlite-split", "serve --no-worker + 1 orchestrion worker process, SQLite",
                   _sqlite_target("sqlite-split", ["--no-worker"], worker_processes=1)),
        TargetSpec("postgres-1proc", "orchestrion serve, PostgreSQL, in-process dispatch",
                   _pg_target("postgres-1proc")),
        TargetSpec("postgres-w2", "orchestrion serve --workers 2, PostgreSQL",
                   _pg_target("postgres-w2", ["--workers", "2"])),
        TargetSpec("postgres-split", "serve --no-worker + 1 orchestrion worker process, PostgreSQL",
                   _pg_target("postgres-split", ["--no-worker"], worker_processes=1)),
        TargetSpec("postgres-2api-2workers",
                   "serve --workers 2 --no-worker + 2 orchestrion worker processes, PostgreSQL",
                   _pg_target("postgres-2api-2workers", ["--workers", "2", "--no-worker"], worker_processes=2)),
    ]
}  # fmt: skip
ALIASES = {
    "sqlite": "sqlite-1proc",
    "postgres": "postgres-1proc",
    "pg": "postgres-1proc",
}


def log_tail(paths: Sequence[Path], lines: int = 30) -> str:
    out = []
    for p in paths:
        with contextlib.suppress(OSError):
            text = p.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {p.name} ---\n" + "\n".join(text))
    return "\n".join(out)


async def wait_ready(running: Running, timeout_s: float) -> None:
    conn = RawConnection(running.host, running.port, running.auth_header)
    deadline = time.perf_counter() + timeout_s
    try:
        while time.perf_counter() < deadline:
            for p in running.procs:
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{running.label}: process exited with {p.returncode}\n" + log_tail(running.log_paths)
                    )
            try:
                async with asyncio.timeout(2):
                    status, _ = await conn.request("GET", "/healthz")
                if status == 200:
                    return
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                conn.close()
            await asyncio.sleep(0.1)
    finally:
        conn.close()
    raise RuntimeError(f"{running.label}: /healthz not 200 after {timeout_s}s\n" + log_tail(running.log_paths))


async def stop_running(ctx: RunContext, running: Running) -> None:
    for p in running.procs:
        await asyncio.to_thread(ctx.procs.stop, p)
    for cleanup in running.cleanups:
        try:
            await cleanup()
        except Exception as exc:  # noqa: BLE001 - a failed cleanup must not hide the results
            print(f"warning: cleanup for {running.label} failed: {exc}", file=sys.stderr)


# --------------------------------------------------------------------------
# The API flow


class ApiError(RuntimeError):
    pass


async def _call(client: Client, method: str, path: str, body: Any = None, timeout_s: float = 30.0) -> tuple[int, Any]:
    async with asyncio.timeout(timeout_s):
        status, data = await client.request(method, path, None if body is None else orjson.dumps(body))
    try:
        parsed = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        parsed = data.decode(errors="replace")
    if not 200 <= status < 300:
        raise ApiError(f"{method} {path} -> HTTP {status}: {str(parsed)[:500]}")
    return status, parsed


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def create_configuration(client: Client, timeout_s: float, **extra: Any) -> str:
    """A configuration (``extra`` overrides or adds body fields), once its operation is COMPLETED."""
    _, body = await _call(
        client, "POST", "/v2/ControlPlane/Configurations",
        {
            "displayName": "bench",
            "description": "bench",
            "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
            "memoryStoreId": MEMORY_STORE_ID,
            **extra,
        },
    )  # fmt: skip
    config_id = (body.get("related") or {}).get("configurationId") or body.get("id")
    status_url = body.get("statusUrl")
    if status_url:
        deadline = time.perf_counter() + timeout_s
        while True:
            _, op = await _call(client, "GET", _path_of(status_url))
            state = op.get("status")
            config_id = config_id or (op.get("related") or {}).get("configurationId")
            if state == "COMPLETED":
                break
            if state == "FAILED":
                raise ApiError(f"configuration operation failed: {op}")
            if time.perf_counter() > deadline:
                raise ApiError(f"configuration operation not COMPLETED after {timeout_s}s: {op}")
            await asyncio.sleep(0.02)
    if not config_id:
        raise ApiError(f"no configuration id in {body}")
    return str(config_id)


async def create_conversations(clients: Sequence[Client], config_id: str, n: int) -> list[str]:
    ids: list[str] = []
    todo = iter(range(n))

    async def worker(client: Client) -> None:
        for _ in todo:
            _, body = await _call(client, "POST", "/v2/Conversations", {"configurationId": config_id})
            ids.append(str(body["id"]))

    await asyncio.gather(*(worker(c) for c in clients))
    return ids


def send_message_body(recipient_index: int) -> bytes:
    return orjson.dumps(
        {
            "type": "SEND_MESSAGE",
            "payload": {
                "from": {"address": FROM_ADDRESS, "channel": "SMS"},
                "to": [
                    {
                        "address": f"+1415555{recipient_index % 10000:04d}",
                        "channel": "SMS",
                    }
                ],
                "content": {"text": "hi"},
            },
        }
    )


def twilio_signature(url: str, params: Sequence[tuple[str, str]], auth_token: str) -> str:
    """X-Twilio-Signature of a form POST: base64(HMAC-SHA1(token, url + sorted name+value pairs)).

    The same as twilio.request_validator.RequestValidator(token).compute_signature(url, dict(params)).
    """
    payload = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


class InboundFeed:
    """Signed Twilio "message comes in" webhooks, built before the phase so the client stays cheap.

    Each has its own MessageSid (a repeat would be absorbed as a Twilio retry);
    senders go round-robin over INBOUND_CUSTOMERS numbers, so the messages
    land in that many conversations (one per sender). ``cycle``: reuse the
    messages once all are sent (the baseline, which keeps nothing).
    """

    def __init__(self, base_url: str, account_sid: str, auth_token: str, n: int, cycle: bool) -> None:
        self.path = f"/twilio/{account_sid}/messages"
        url = base_url + self.path  # what the server rebuilds from the Host header
        run = secrets.token_hex(6)
        self._requests: list[Request] = []
        self.sids: list[str] = []
        for i in range(n):
            sid = f"SM{run}{i:020x}"
            params = [
                ("AccountSid", account_sid),
                ("Body", f"inbound {i}"),
                ("From", f"+1415555{i % INBOUND_CUSTOMERS:04d}"),
                ("MessageSid", sid),
                ("NumMedia", "0"),
                ("SmsSid", sid),
                ("To", INBOUND_TO),
            ]
            headers = b"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: %s\r\n" % (
                twilio_signature(url, params, auth_token).encode()
            )
            self._requests.append(("POST", self.path, urlencode(params).encode(), headers))
            self.sids.append(sid)
        self._cycle = cycle
        self._n = 0
        self.accepted = 0  # 2xx answers, warmup included

    def next(self) -> Request | None:
        if self._n >= len(self._requests) and (not self._cycle or not self._requests):
            return None
        req = self._requests[self._n % len(self._requests)]
        self._n += 1
        return req

    def on_ok(self, req: Request, data: bytes) -> None:
        self.accepted += 1

    @property
    def used(self) -> int:
        return self._n


async def _list_all(client: Client, path: str, key: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every item of a paged list endpoint."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}pageSize=1000" + (f"&pageToken={token}" if token else "")
        _, body = await _call(client, "GET", url, timeout_s=timeout_s)
        items.extend(body.get(key) or [])
        token = (body.get("meta") or {}).get("nextToken")
        if not token:
            return items


async def count_inbound(
    clients: Sequence[Client], config_id: str, sids: Sequence[str], timeout_s: float
) -> dict[str, Any]:
    """How many of the sent MessageSids are Communications, in how many conversations of ``config_id``."""
    start = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        convs = await _list_all(clients[0], "/v2/Conversations", "conversations", timeout_s)
        mine = [str(c["id"]) for c in convs if c.get("configurationId") == config_id]
        wanted = set(sids)
        found: set[str] = set()
        todo = iter(mine)

        async def worker(client: Client) -> None:
            for conv in todo:
                path = f"/v2/Conversations/{conv}/Communications"
                for comm in await _list_all(client, path, "communications", timeout_s):
                    if comm.get("channelId") in wanted:
                        found.add(str(comm["channelId"]))

        await asyncio.gather(*(worker(c) for c in clients))
    return {"communications": len(found), "conversations": len(mine), "count_s": time.perf_counter() - start}


class ActionFeed:
    """Round-robin over conversations; one customer address per conversation.

    ``budget`` caps actions over the whole run (None: the baseline, unbounded
    but for the duration and MAX_REQUESTS_PER_PHASE).
    """

    def __init__(self, conversation_ids: Sequence[str], budget: int | None) -> None:
        self._paths = [f"/v2/Conversations/{c}/Actions" for c in conversation_ids]
        self._bodies = [send_message_body(i) for i in range(len(conversation_ids))]
        self._budget = budget
        self._n = 0

    def extend(self, n: int) -> None:
        if self._budget is not None:
            self._budget = self._n + n

    def next(self) -> Request | None:
        if self._budget is not None and self._n >= self._budget:
            return None
        k = self._n % len(self._paths)
        self._n += 1
        return ("POST", self._paths[k], self._bodies[k])

    @property
    def used(self) -> int:
        return self._n


def _status_of(data: bytes) -> str | None:
    try:
        value = orjson.loads(data).get("status")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


async def drain(clients: Sequence[Client], action_paths: Sequence[str], timeout_s: float) -> dict[str, Any]:
    """Wait until every created action is terminal; count final statuses.

    Watches the newest action first (dispatch is presumably roughly FIFO), then
    sweeps all of them, re-polling only the ones still not terminal.
    """
    start = time.perf_counter()
    deadline = start + timeout_s
    final: dict[str, str] = {}
    if action_paths:
        last = action_paths[-1]
        while time.perf_counter() < deadline:
            try:
                status, data = await clients[0].request("GET", last)
            except (OSError, asyncio.IncompleteReadError, ValueError, httpx.HTTPError):
                status, data = 0, b""
            if status == 200 and _status_of(data) in TERMINAL:
                break
            await asyncio.sleep(0.02)
    pending = list(action_paths)
    sweeps = 0
    while pending and time.perf_counter() < deadline:
        sweeps += 1
        todo = iter(pending)
        still: list[str] = []

        async def worker(client: Client, todo: Iterator[str], still: list[str]) -> None:
            for path in todo:
                try:
                    status, data = await client.request("GET", path)
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    ValueError,
                    httpx.HTTPError,
                ):
                    status, data = 0, b""
                state = _status_of(data) if status == 200 else None
                if state in TERMINAL:
                    final[path] = state
                else:
                    still.append(path)

        await asyncio.gather(*(worker(c, todo, still) for c in clients))
        pending = still
        if pending:
            await asyncio.sleep(0.05)
    counts = Counter(final.values())
    return {
        "actions": len(action_paths),
        "completed": counts.get("COMPLETED", 0),
        "failed": counts.get("FAILED", 0),
        "not_terminal": len(pending),
        "drain_s": time.perf_counter() - start,
        "sweeps": sweeps,
    }


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
            try:
                status, data = await client.request(*req)
                if not 200 <= status < 300:
                    stats.error(f"POST HTTP {status}", data.decode(errors="replace"))
                    continue
                path = f"{req[1]}/{orjson.loads(data)['id']}"
                polls = 0
                while True:
                    status, data = await client.request("GET", path)
                    polls += 1
                    state = _status_of(data) if status == 200 else None
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
            except (
                OSError,
                asyncio.IncompleteReadError,
                ValueError,
                KeyError,
                orjson.JSONDecodeError,
                httpx.HTTPError,
            ) as exc:
                stats.error(type(exc).__name__, str(exc))
                await asyncio.sleep(0.01)

    cpu = meter()
    tasks = [asyncio.create_task(worker(c)) for c in clients]
    await _gather_bounded(tasks, duration_s + action_timeout_s + 5, stats)
    stats.elapsed_s = time.perf_counter() - start
    stats.cpu = cpu.stop()
    return stats, {
        "completed": extra["COMPLETED"],
        "failed": extra["FAILED"],
        "mean_polls": extra["polls"] / stats.ok if stats.ok else None,
    }


# --------------------------------------------------------------------------
# One target, end to end


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def bench_target(ctx: RunContext, spec: TargetSpec) -> dict[str, Any]:
    args = ctx.args
    c = args.concurrency
    _log(f"{spec.name}: starting ({spec.description})")
    result: dict[str, Any] = {"target": spec.name, "description": spec.description}
    mark = ctx.procs.mark()
    try:
        running = await spec.start(ctx)
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next target
        await asyncio.to_thread(ctx.procs.stop_all, mark)
        result["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"{spec.name}: FAILED to start: {result['error']}")
        return result
    try:
        await wait_ready(running, args.startup_timeout_s)

        def meter() -> CpuMeter:
            return CpuMeter(running.pids, running.db_tag)

        def pool(size: int) -> ClientPool:
            return ClientPool(args.client, running.host, running.port, running.auth_header, size)

        phases = set(args.phase_list)
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
            _log(f"{spec.name}: {len(conversations)} conversations in "
                 f"{result['setup']['seconds']:.1f}s")  # fmt: skip
            budget = args.actions
        else:
            conversations = [f"conv_conversation_baseline{i:06d}" for i in range(n_conv)]
        feed = ActionFeed(conversations or ["none"], budget)
        action_paths: list[str] = []
        if "post" in phases:
            await _post_get_phases(ctx, spec, running, result, feed, budget, action_paths, meter, pool)
        if "e2e" in phases:
            await _e2e_phase(ctx, spec, running, result, feed, meter, pool)
        if "inbound" in phases:
            await _inbound_phase(ctx, spec, running, result, meter, pool)
        for p_ in running.procs:
            if p_.poll() is not None:
                result["warning"] = f"process exited with {p_.returncode} during the run"
    except Exception as exc:  # noqa: BLE001 - report it and go on with the next target
        result["error"] = f"{type(exc).__name__}: {exc}"
        _log(f"{spec.name}: FAILED {result['error']}\n{log_tail(running.log_paths)}")
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
        post = await closed_loop(p.clients, args.duration_s, feed.next, on_created, meter, args.grace_s)
    finally:
        await p.aclose()
    result["post"] = post.report()
    _log(f"{spec.name}: POST {post.ok} ok in {post.elapsed_s:.1f}s, errors {dict(post.errors)}")
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
        _log(f"{spec.name}: drain {d}")

    if "get" in args.phase_list:
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
            get = await closed_loop(p.clients, args.duration_s, next_get, None, meter, args.grace_s)
        finally:
            await p.aclose()
        result["get"] = get.report()
        _log(f"{spec.name}: GET {get.ok} ok in {get.elapsed_s:.1f}s, errors {dict(get.errors)}")


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
    result["e2e"] = {**e2e.report(), **extra}
    _log(f"{spec.name}: e2e {e2e.ok} terminal, errors {dict(e2e.errors)}")
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
    feed = InboundFeed(running.base_url, ctx.account_sid, ctx.auth_token, n, cycle=not running.stores_actions)
    p = pool(c)
    try:
        if args.warmup_s > 0:
            warm_cap = n // 10

            def next_warm() -> Request | None:
                return feed.next() if not running.stores_actions or feed.used < warm_cap else None

            await closed_loop(p.clients, args.warmup_s, next_warm, feed.on_ok, meter, 10)
        inbound = await closed_loop(p.clients, args.duration_s, feed.next, feed.on_ok, meter, args.grace_s)
    finally:
        await p.aclose()
    result["inbound"] = {**inbound.report(), "accepted": feed.accepted if running.stores_actions else None}
    _log(f"{spec.name}: INBOUND {inbound.ok} ok in {inbound.elapsed_s:.1f}s, errors {dict(inbound.errors)}")
    if config_id is not None:
        p = pool(min(c, 8))
        try:
            counted = await count_inbound(p.clients, config_id, feed.sids[: feed.used], args.setup_timeout_s)
        finally:
            await p.aclose()
        result["inbound"].update(counted)
        _log(f"{spec.name}: inbound check {counted} (accepted {feed.accepted})")
        if counted["communications"] != feed.accepted:
            result["inbound"]["mismatch"] = True


# --------------------------------------------------------------------------
# Report


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


def _field(*keys: str) -> Callable[[dict[str, Any]], Any]:
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
# (label, getter, unit); rows with unit "rps" or "ms" get a ratio to the baseline.
METRICS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("GET action status, req/s", _field("get", "rps"), "rps"),
    ("GET action status, p50 ms", _field("get", "p50_ms"), "ms"),
    ("GET action status, p99 ms", _field("get", "p99_ms"), "ms"),
    ("POST action, req/s", _field("post", "rps"), "rps"),
    ("POST action, p50 ms", _field("post", "p50_ms"), "ms"),
    ("POST action, p99 ms", _field("post", "p99_ms"), "ms"),
    ("create->terminal, p50 ms", _field("e2e", "p50_ms"), "ms"),
    ("create->terminal, p99 ms", _field("e2e", "p99_ms"), "ms"),
    ("create->terminal, polls per action", _field("e2e", "mean_polls"), ""),
    ("create->terminal, COMPLETED/FAILED", _joined("e2e", "completed", "failed"), ""),
    ("POST phase, seconds measured", _field("post", "elapsed_s"), ""),
    ("POST-phase actions COMPLETED/FAILED/not terminal",
     _joined("drain", "completed", "failed", "not_terminal"), ""),
    ("backlog drained, s after POST phase start", _field("drain", "since_post_start_s"), ""),
    ("inbound message -> Communication, req/s", _field("inbound", "rps"), "rps"),
    ("inbound message -> Communication, p50 ms", _field("inbound", "p50_ms"), "ms"),
    ("inbound message -> Communication, p99 ms", _field("inbound", "p99_ms"), "ms"),
    ("inbound accepted (2xx) / Communications found / conversations",
     _joined("inbound", "accepted", "communications", "conversations"), ""),
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
                a, b = getter(r), getter(base)
                ok = unit in ("rps", "ms") and isinstance(a, float) and isinstance(b, float) and b
                row.append(f"{a / b:.2f}x" if ok else "")
        lines.append("| " + " | ".join(row) + " |")
    for r in results:
        if "error" in r:
            lines.append(f"\n**{r['target']} failed:** {r['error']}")
    for r in results:
        for name in _PHASE_KEYS:
            for sample in _get(r, name, "error_samples") or []:
                lines.append(f"\n- {r['target']} {name} error sample: `{sample}`")
    return "\n".join(lines)


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


# --------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        help=f"comma list of {', '.join(TARGETS)} (aliases: {', '.join(ALIASES)}); baseline is always added",
    )
    ap.add_argument(
        "--phases",
        default=",".join(PHASES),
        help=f"comma list of {', '.join(PHASES)} (get needs post); default: all",
    )
    ap.add_argument(
        "--inbound-messages",
        type=int,
        default=20_000,
        help="max inbound messages a target may get in the inbound phase (incl. warmup)",
    )
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
        "--rounds", type=int, default=1, help="run all targets this many times, interleaved; report medians"
    )
    args = ap.parse_args(argv)
    names: list[str] = ["baseline"]
    for raw in args.targets.split(","):
        name = ALIASES.get(raw.strip(), raw.strip())
        if not name:
            continue
        if name not in TARGETS:
            ap.error(f"unknown target {raw!r}; known: {', '.join([*TARGETS, *ALIASES])}")
        if name not in names:
            names.append(name)
    args.target_names = names
    args.phase_list = [p.strip() for p in args.phases.split(",") if p.strip()]
    for phase in args.phase_list:
        if phase not in PHASES:
            ap.error(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
    if "get" in args.phase_list and "post" not in args.phase_list:
        ap.error("--phases: get reads the actions of the post phase; add post")
    if not args.phase_list:
        ap.error("--phases: none given")
    for flag in ("actions", "concurrency", "latency_concurrency", "latency_actions", "rounds", "inbound_messages"):
        if getattr(args, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be >= 1")
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
                    _log(f"round {i + 1}/{args.rounds}")
                rounds[name].append(await bench_target(ctx, TARGETS[name]))
    return [merge_rounds(r) for r in rounds.values()]


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per target: the median of each number over the rounds."""
    if len(rounds) == 1:
        return rounds[0]

    def merge(key: str, values: list[Any]) -> Any:
        first = values[0]
        if key == "errors":
            total: Counter[str] = Counter()
            for v in values:
                total.update(v)
            return dict(total)
        if isinstance(first, dict):
            keys = dict.fromkeys(k for v in values if isinstance(v, dict) for k in v)
            return {k: merge(k, [v[k] for v in values if isinstance(v, dict) and k in v]) for k in keys}
        if isinstance(first, list):
            return [x for v in values for x in v][:3]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers and len(numbers) == len(values):
            if all(isinstance(v, int) for v in numbers):
                return statistics.median_low(numbers)
            return statistics.median(numbers)
        return first

    merged: dict[str, Any] = merge("", rounds)
    errors = [r["error"] for r in rounds if "error" in r]
    if errors:
        merged["error"] = f"{len(errors)}/{len(rounds)} rounds failed: " + " | ".join(dict.fromkeys(errors))
    merged["rounds"] = rounds
    return merged


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
    for note in notes(results):
        print("\n" + note)
    if args.json:
        args.json.write_text(orjson.dumps({"meta": meta, "results": results},
                                          option=orjson.OPT_INDENT_2).decode())  # fmt: skip
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
