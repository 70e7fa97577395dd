"""The development account: processes starting together on an empty database make exactly one."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from orchestrion.runtime import Runtime
from orchestrion.services import accounts
from orchestrion.store.tables import accounts as accounts_table
from tests.conftest import test_settings

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_concurrent_first_account_creations_make_one_account(private_database_url: str) -> None:
    # One runtime per "process": each has its own connections, as separate servers would.
    runtimes = [Runtime.build(test_settings(private_database_url)) for _ in range(4)]
    try:
        made = await asyncio.gather(*(accounts.create_first_account(r.ctx) for r in runtimes))
        async with runtimes[0].ctx.store.read() as tx:
            stored = (await tx.conn.execute(sa.select(accounts_table.c.sid))).scalars().all()
    finally:
        for runtime in runtimes:
            await runtime.ctx.store.close()
    created = [m.sid for m in made if m is not None]
    assert (len(created), stored) == (1, created)
