"""How many PostgreSQL connections one process keeps, and whether the server has room for them.

A process never holds more than its pool (``store.database``: no overflow).
The pool is sized for what the process runs, because that is how many
connections it can use at once: an API (``ORCHESTRION_DB_API_CONNECTIONS``
requests in a transaction or a read at the same time) and a dispatcher (one
per job slot, ``ORCHESTRION_WORKER_CONCURRENCY``, plus one to claim jobs).
``ORCHESTRION_DB_POOL_SIZE`` set to a number replaces the derived size.

The server's ``max_connections`` bounds the sum over every process (plus one
LISTEN connection per dispatcher process): ``room`` tells at start-up what is
left, so that a process whose pool could not fit says so once, with the
numbers, instead of failing requests later with "too many clients".
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from orchestrion.store.database import Database


def pool_size(configured: int, *, api_connections: int, serves_api: bool, dispatcher_slots: int) -> int:
    """``configured`` when set (> 0), else what a process that serves the API and/or dispatches can use at once."""
    if configured > 0:
        return configured
    size = (api_connections if serves_api else 0) + (dispatcher_slots + 1 if dispatcher_slots else 0)
    return max(size, 1)


@dataclass(frozen=True, slots=True)
class Room:
    max_connections: int
    reserved: int  # superuser_reserved_connections: never for us
    in_use: int  # every connection open on the server now, this check's own included

    @property
    def free(self) -> int:
        """Connections still open to ordinary roles, counting this check's own as free again."""
        return self.max_connections - self.reserved - self.in_use + 1


_ROOM = sa.text(
    "SELECT current_setting('max_connections')::int AS max_connections, "
    "current_setting('superuser_reserved_connections')::int AS reserved, "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use"
)


async def room(database: Database) -> Room | None:
    """What the PostgreSQL server has left (None on SQLite)."""
    if database.backend != "postgresql":
        return None
    async with database.connect() as conn:
        row = (await conn.execute(_ROOM)).mappings().one()
    return Room(max_connections=row["max_connections"], reserved=row["reserved"], in_use=row["in_use"])
