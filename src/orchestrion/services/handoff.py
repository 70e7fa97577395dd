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


class NoHandoff:
    """No dispatcher in this process: every job waits for a claim."""

    def reserve(self, kind: str) -> Reservation | None:
        return None
