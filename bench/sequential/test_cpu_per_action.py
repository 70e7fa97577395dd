"""Process CPU per Action, one at a time, with no HTTP: the send path's own cost, steady under load.

Run from the checkout (it uses the test suite's fixtures: a World on each backend):

    .venv/bin/pytest -q -s -p no:cacheprovider bench/sequential/test_cpu_per_action.py

Each backend: 50 warm-up Actions, then 3 rounds of N (env ``N``, default 600), each Action created
through the service and handed to this process's dispatcher (as ``serve`` does), its send run to
COMPLETED (sandbox step 0) before the next. Prints the CPU time of this process per Action for each
round and the least of them. CPU time, not wall time, so other processes on the machine move it
little; the statement tracer of the fixtures is installed, which adds a few microseconds per
statement to both sides of a comparison. Not part of the suite (``testpaths`` is ``tests``).
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from orchestrion.services import actions
from orchestrion.services.handoff import NoHandoff
from tests.conftest import private_database_url  # noqa: F401 - the fixture the World needs
from tests.services.conftest import world  # noqa: F401 - the fixture
from tests.services.world import World, command

pytestmark = pytest.mark.asyncio

WARM = 50
ROUNDS = 3


async def test_cpu_per_action(world: World) -> None:  # noqa: F811 - the fixture, by name
    world = dataclasses.replace(world, ctx=dataclasses.replace(world.ctx, sandbox_step_ms=0))
    dispatcher = world.dispatcher()
    world.ctx.handoff = dispatcher
    conversation = await world.conversation()
    count = int(os.environ.get("N", "600"))

    async def actions_in_a_row(n: int) -> None:
        for _ in range(n):
            await actions.create_send_message(world.ctx, world.account_sid, conversation, command())
            await dispatcher.drain()

    try:
        await actions_in_a_row(WARM)
        per_action = []
        for _ in range(ROUNDS):
            started = time.process_time()
            await actions_in_a_row(count)
            per_action.append((time.process_time() - started) / count * 1e6)
    finally:
        world.ctx.handoff = NoHandoff()
    rounds = ", ".join(f"{us:,.0f}" for us in per_action)
    print(f"\n{world.ctx.store.backend}: CPU per Action {rounds} us; least {min(per_action):,.0f} us")
