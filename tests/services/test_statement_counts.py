"""What one SEND_MESSAGE costs the database, from the request to COMPLETED (sandbox step 0).

Counted at the driver with ``tests.sqltrace`` on each backend, for the first
Action of a conversation (its two participants are created on the way) and
for a later one: statements (everything but BEGIN/COMMIT/ROLLBACK;
SAVEPOINT and RELEASE count), write transactions, and round trips (every
statement sent). The ceilings are the counts measured today: a change that
adds one fails here. Issue 12 started from 30 / 4 / 38 for a later Action
on SQLite (42 / 4 / 50 for the first); its target is at most 8 statements
and 2 write transactions: lower the ceilings as the send path gets there.

A later Action today: create (SELECT the conversation with the owners of
both addresses, INSERT the action, INSERT the job), claim (UPDATE ...
RETURNING), the send job's read of the action, and one send transaction
(DELETE the job as the fence, INSERT the sandbox message in its final
state, INSERT the Communication, UPDATE the conversation's last activity
RETURNING it, UPDATE the action COMPLETED if it is unchanged since the send
read it: ``services.outcomes.sending``).
When the job is handed to the dispatcher of the process that created it
(``services.handoff``), the claim transaction and the read of the action go:
8 statements, 2 write transactions. The counts must match exactly, so a
change that removes one updates them too.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import pytest

from orchestrion.dispatch.worker import Dispatcher
from orchestrion.services import actions
from orchestrion.services.handoff import NoHandoff
from tests.services.world import World, command
from tests.sqltrace import Seen

pytestmark = pytest.mark.asyncio


class Ceiling(NamedTuple):
    statements: int
    write_transactions: int
    round_trips: int


# backend -> (first Action of a conversation, a later one), the job claimed by a dispatcher. The
# dispatcher is warm, as in a running server: the account's provider configuration (services.providers)
# is read once per ORCHESTRION_PROVIDERS_REFRESH_S, not per Action.
CEILINGS = {
    "sqlite": (Ceiling(16, 3, 22), Ceiling(10, 3, 16)),
    "postgresql": (Ceiling(16, 3, 22), Ceiling(10, 3, 16)),
}
# The same with the job handed to the dispatcher of the process that created it: no claim, and the
# send starts from the Action the create wrote (services.handoff.Fresh) instead of reading it back.
HANDED_OFF = {
    "sqlite": (Ceiling(14, 2, 18), Ceiling(8, 2, 12)),
    "postgresql": (Ceiling(14, 2, 18), Ceiling(8, 2, 12)),
}


async def _one_action(world: World, conversation_id: str, dispatcher: Dispatcher, *, handoff: bool = False) -> Seen:
    """POST (the service call) to COMPLETED: the create, the dispatcher's claim (unless handed off), the send job."""
    if handoff:
        world.ctx.handoff = dispatcher
    try:
        async with world.sql.window() as seen:
            created = await actions.create_send_message(world.ctx, world.account_sid, conversation_id, command())
            if not handoff:
                assert await dispatcher.run_once() == 1
            await dispatcher.drain()
    finally:
        world.ctx.handoff = NoHandoff()
    assert (await world.action(conversation_id, created.id))["status"] == "COMPLETED"
    return seen


def _within(seen: Seen, ceiling: Ceiling) -> bool:
    counted = Ceiling(len(seen.statements), seen.write_transactions, len(seen.all))
    return counted == ceiling


async def test_one_action_to_completed_stays_within_its_statement_and_transaction_counts(world: World) -> None:
    world = dataclasses.replace(world, ctx=dataclasses.replace(world.ctx, sandbox_step_ms=0))
    dispatcher = world.dispatcher()
    await _one_action(world, await world.conversation(), dispatcher)  # warm: connections, statements, caches
    cid = await world.conversation()
    first, later = await _one_action(world, cid, dispatcher), await _one_action(world, cid, dispatcher)
    first_ceiling, later_ceiling = CEILINGS[world.ctx.store.backend]
    assert _within(first, first_ceiling), f"first Action of a conversation: {first.summary()}"
    assert _within(later, later_ceiling), f"a later Action: {later.summary()}"


async def test_a_handed_off_action_to_completed_takes_two_write_transactions(world: World) -> None:
    world = dataclasses.replace(world, ctx=dataclasses.replace(world.ctx, sandbox_step_ms=0))
    dispatcher = world.dispatcher()
    await _one_action(world, await world.conversation(), dispatcher, handoff=True)  # warm
    cid = await world.conversation()
    first = await _one_action(world, cid, dispatcher, handoff=True)
    later = await _one_action(world, cid, dispatcher, handoff=True)
    first_ceiling, later_ceiling = HANDED_OFF[world.ctx.store.backend]
    assert _within(first, first_ceiling), f"first Action of a conversation: {first.summary()}"
    assert _within(later, later_ceiling), f"a later Action: {later.summary()}"


async def test_the_polled_status_read_is_one_statement_outside_any_transaction(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    await world.action(cid, created["id"])  # warm
    async with world.sql.window() as seen:
        await actions.get_action(world.ctx, world.account_sid, cid, created["id"])
    assert (len(seen.statements), seen.write_transactions, len(seen.all)) == (1, 0, 1), seen.summary()
