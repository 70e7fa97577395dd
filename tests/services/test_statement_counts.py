"""What one SEND_MESSAGE costs the database, from the request to COMPLETED (sandbox step 0).

Counted at the driver with ``tests.sqltrace`` on each backend, for the first
Action of a conversation (its two participants are created on the way) and
for a later one: statements (everything but BEGIN/COMMIT/ROLLBACK;
SAVEPOINT and RELEASE count), write transactions, and round trips (every
statement sent). The ceilings are the counts measured when this test was
written (issue 12, phase 1): a change that adds one fails here. The target
of issue 12 is at most 8 statements and 2 write transactions per Action:
lower the ceilings as the send path gets there.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import pytest

from orchestrion.services import actions
from tests.services.world import World, command
from tests.sqltrace import Seen

pytestmark = pytest.mark.asyncio


class Ceiling(NamedTuple):
    statements: int
    write_transactions: int
    round_trips: int


# backend -> (first Action of a conversation, a later one). Each counts one read of the account's
# provider configuration (services.providers): a server reads it once per ORCHESTRION_PROVIDERS_REFRESH_S
# per account, but each Action here gets new handlers, so a cold cache.
CEILINGS = {
    "sqlite": (Ceiling(43, 4, 51), Ceiling(31, 4, 39)),
    "postgresql": (Ceiling(44, 4, 52), Ceiling(32, 4, 40)),
}


async def _one_action(world: World, conversation_id: str) -> Seen:
    """POST (the service call) to COMPLETED: the create, the dispatcher's claim, the send job, its end."""
    dispatcher = world.dispatcher()
    async with world.sql.window() as seen:
        created = await actions.create_send_message(world.ctx, world.account_sid, conversation_id, command())
        assert await dispatcher.run_once() == 1
        await dispatcher.drain()
    assert (await world.action(conversation_id, created.id))["status"] == "COMPLETED"
    return seen


def _within(seen: Seen, ceiling: Ceiling) -> bool:
    counted = Ceiling(len(seen.statements), seen.write_transactions, len(seen.all))
    return all(c <= limit for c, limit in zip(counted, ceiling, strict=True))


async def test_one_action_to_completed_stays_within_its_statement_and_transaction_counts(world: World) -> None:
    world = dataclasses.replace(world, ctx=dataclasses.replace(world.ctx, sandbox_step_ms=0))
    await _one_action(world, await world.conversation())  # warm: connections open, statements prepared
    cid = await world.conversation()
    first, later = await _one_action(world, cid), await _one_action(world, cid)
    first_ceiling, later_ceiling = CEILINGS[world.ctx.store.backend]
    assert _within(first, first_ceiling), f"first Action of a conversation: {first.summary()}"
    assert _within(later, later_ceiling), f"a later Action: {later.summary()}"


async def test_the_polled_status_read_is_one_statement_outside_any_transaction(world: World) -> None:
    cid = await world.conversation()
    created = await world.send(cid)
    await world.action(cid, created["id"])  # warm
    async with world.sql.window() as seen:
        await actions.get_action(world.ctx, world.account_sid, cid, created["id"])
    assert (len(seen.statements), seen.write_transactions, len(seen.all)) == (1, 0, 1), seen.summary()
