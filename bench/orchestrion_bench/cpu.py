"""CPU time from /proc: the client, the target's process tree, its PostgreSQL backends, everything else."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

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
