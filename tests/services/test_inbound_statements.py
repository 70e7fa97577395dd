"""What one inbound message costs the database once its conversation exists (issue 12).

Counted at the driver with ``tests.sqltrace``, as the Actions' counts are: one
write transaction with the duplicate check (by message SID), the account's
configurations, the open conversation of the group (whole and locked, in the
search itself), the participant at each end (each one statement, joined
through its address), the Communication and the conversation's last activity.
PostgreSQL adds the group's advisory lock. A change that adds a statement
fails here; one that removes a statement updates the counts.
"""

from __future__ import annotations

import pytest

from tests.services.test_ingestion import configure, incoming
from tests.services.world import World

pytestmark = pytest.mark.asyncio

# backend -> (statements, write transactions), BEGIN and COMMIT not counted as statements
COUNTS = {"sqlite": (7, 1), "postgresql": (8, 1)}


async def test_a_message_in_an_open_conversation_is_one_transaction_of_few_statements(world: World) -> None:
    await configure(world, "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE")
    first = await incoming(world)
    async with world.sql.window() as seen:
        second = await incoming(world, "second")
    assert second.conversation_id == first.conversation_id
    counted = (len(seen.statements), seen.write_transactions)
    assert counted == COUNTS[world.ctx.store.backend], seen.summary()
