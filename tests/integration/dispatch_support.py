"""A manual clock and a drain loop for driving the dispatcher in integration tests.

The dispatchers of these tests take the manual clock as their lease clock
too: domain time and real time are one, and move only when the test says so.
"""

from __future__ import annotations

from orchestrion.dispatch.worker import Dispatcher
from orchestrion.services.context import Context


class ManualClock:
    """Time that moves only when a test moves it."""

    def __init__(self, start_ms: int) -> None:
        self.now = start_ms

    def now_ms(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


async def run_until_idle(ctx: Context, clock: ManualClock, dispatcher: Dispatcher, *, max_rounds: int = 50) -> None:
    """Run every job that is due, moving the clock to the next one, until the outbox is empty."""
    for _ in range(max_rounds):
        await dispatcher.run_once()
        await dispatcher.drain()
        async with ctx.store.read() as tx:
            due_in = await tx.jobs.next_due_in_ms(now_ms=clock.now)
        if due_in is None:
            return
        clock.advance(due_in + 1)
    raise AssertionError("the outbox did not drain")
