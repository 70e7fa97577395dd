"""The garbage collector of a serving process: fewer, cheaper collections.

A request allocates thousands of short-lived containers (rows, dataclasses,
SQLAlchemy and Starlette objects), so with CPython's default first threshold
(700) a young collection runs every few requests, and every tenth of those
walks the older generation too, where everything the process built at start
lives (the app, its routes, the compiled statements, SQLAlchemy's metadata).
Measured (bench/README.md, "Issue 12, fifth pass"): on SQLite a burst of POSTs took 19 % more
Actions per second and its p99 fell from 99 ms to 32 ms; on PostgreSQL the
POST p99 halved.

``for_serving`` is called once per process by the entry points that serve
(``orchestrion serve``, its worker processes, ``orchestrion worker``), after
the app is built: what exists then is moved out of the collector's sight for
good (``gc.freeze``), and the young generation is collected every 50,000
allocations instead of 700. Cycles are still collected; between collections a process holds
up to 50,000 young objects more than before (a few megabytes at most).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def for_serving() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
