"""Handing a job just written to this process's own dispatcher, without a claim.

A service that writes a job this process could run at once asks for a slot
(``Handoff.reserve``). With one, the job is written already leased to this
process's dispatcher (attempt 1, its worker id, a lease), in the transaction
that makes it due, and the dispatcher starts it as soon as that transaction
commits: no claim transaction and no wake-up round per job. Nothing changes
for safety: if the process dies before the job ends, its lease runs out and
any worker takes it again, as with a claimed job; the run is fenced by the
same lease. Without a dispatcher in the process (``serve --no-worker``), or
with its slots for that kind of job all taken, there is no reservation and
the job is written unleased, for whichever worker claims it first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from orchestrion.domain.models import Job


@dataclass(frozen=True, slots=True)
class Reservation:
    """A slot of this process's dispatcher, held for one job until ``start`` or ``cancel``."""

    worker_id: str
    lease_until_ms: int  # on the dispatcher's lease clock (wall time)
    start: Callable[[Job], None]  # once the job's transaction committed
    cancel: Callable[[], None]  # the job was not written after all


class Handoff(Protocol):
    def reserve(self, kind: str) -> Reservation | None:
        """A free slot for a job of ``kind``, or None (no dispatcher here, no slot free, stopping)."""
        ...

    async def admit(self, kind: str) -> Reservation | None:
        """A slot for a job of ``kind``, waiting a bounded time for one to free (backpressure), or None."""
        ...


class NoHandoff:
    """No dispatcher in this process: every job waits for a claim."""

    def reserve(self, kind: str) -> Reservation | None:
        return None

    async def admit(self, kind: str) -> Reservation | None:
        return None


class Fresh:
    """What a service just wrote with a handed-off job, for the job's first run to use instead of reading it back.

    Only for a job started by ``Reservation.start``: it runs at once, in this
    process, on the rows its transaction committed a moment before. A re-run
    (attempt 2 and later, or a claim elsewhere) finds nothing here and reads
    the store. Bounded: a job that never starts (the process stopping) leaves
    its entry to be pushed out by newer ones.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._items: dict[int, object] = {}

    def put(self, job_id: int, value: object) -> None:
        self._items[job_id] = value
        if len(self._items) > self.LIMIT:
            del self._items[next(iter(self._items))]

    def take(self, job_id: int) -> object | None:
        return self._items.pop(job_id, None)
