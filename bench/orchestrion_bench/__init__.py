"""Orchestrion's benchmark: its endpoints under load, read against floors, limits and a peer of the same run.

Modules, one concept each:

- ``client``: the load generator's HTTP/1.1 keep-alive clients.
- ``load``: closed loops, latencies and per-phase counts.
- ``cpu``: CPU time of the client, the servers, PostgreSQL and everything else, from ``/proc``.
- ``processes``: child processes, always stopped.
- ``running``: a started target, its readiness and its stop.
- ``orchestrion``, ``bare``, ``prism``: how each kind of target starts; ``pgdb`` makes their
  throwaway PostgreSQL databases; ``targets``: the registry of named targets.
- ``api``, ``feeds``: the API flow a phase drives, and the requests it sends.
- ``phases``: one target, end to end (setup, POST, drain, GET, create->terminal, inbound).
- ``rounds``, ``report``: medians over rounds, ratios, the table, the issue's targets as pass/miss.
- ``cli``: the command line (``bench/bench_actions.py``).
"""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
