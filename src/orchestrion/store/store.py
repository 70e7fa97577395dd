"""The store port: one object the services use for every read and write.

``async with store.write() as tx`` is one transaction; ``async with
store.read() as tx`` one autocommit connection. Both expose the same
repositories, named after the resources.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import cached_property

from orchestrion.store.accounts import AccountRepo
from orchestrion.store.actions import ActionRepo
from orchestrion.store.communications import CommunicationRepo
from orchestrion.store.configurations import ConfigurationRepo
from orchestrion.store.conversations import ConversationRepo, ParticipantRepo
from orchestrion.store.database import Database, SqlConnection
from orchestrion.store.history import HistoryRepo
from orchestrion.store.idempotency import IdempotencyRepo
from orchestrion.store.ingestion import IngestionRepo
from orchestrion.store.jobs import JobRepo
from orchestrion.store.lifecycle import ClockRepo, LifecycleRepo
from orchestrion.store.operations import OperationRepo
from orchestrion.store.profiles import ProfileRepo
from orchestrion.store.sandbox import SandboxRepo
from orchestrion.store.secrets import SecretBox
from orchestrion.store.signatures import SignatureRepo
from orchestrion.store.webhooks import WebhookRepo


class Tx:
    """Repositories bound to one connection."""

    def __init__(self, conn: SqlConnection, backend: str, box: SecretBox) -> None:
        self.conn = conn
        self._backend = backend
        self._box = box

    @cached_property
    def accounts(self) -> AccountRepo:
        return AccountRepo(self.conn, self._box)

    @cached_property
    def configurations(self) -> ConfigurationRepo:
        return ConfigurationRepo(self.conn)

    @cached_property
    def conversations(self) -> ConversationRepo:
        return ConversationRepo(self.conn)

    @cached_property
    def participants(self) -> ParticipantRepo:
        return ParticipantRepo(self.conn)

    @cached_property
    def communications(self) -> CommunicationRepo:
        return CommunicationRepo(self.conn)

    @cached_property
    def actions(self) -> ActionRepo:
        return ActionRepo(self.conn)

    @cached_property
    def operations(self) -> OperationRepo:
        return OperationRepo(self.conn)

    @cached_property
    def jobs(self) -> JobRepo:
        return JobRepo(self.conn, self._backend)

    @cached_property
    def idempotency(self) -> IdempotencyRepo:
        return IdempotencyRepo(self.conn)

    @cached_property
    def sandbox(self) -> SandboxRepo:
        return SandboxRepo(self.conn)

    @cached_property
    def webhooks(self) -> WebhookRepo:
        return WebhookRepo(self.conn)

    @cached_property
    def lifecycle(self) -> LifecycleRepo:
        return LifecycleRepo(self.conn)

    @cached_property
    def clock(self) -> ClockRepo:
        return ClockRepo(self.conn)

    @cached_property
    def ingestion(self) -> IngestionRepo:
        return IngestionRepo(self.conn, self._backend)

    @cached_property
    def profiles(self) -> ProfileRepo:
        return ProfileRepo(self.conn)

    @cached_property
    def history(self) -> HistoryRepo:
        return HistoryRepo(self.conn)

    @cached_property
    def signatures(self) -> SignatureRepo:
        return SignatureRepo(self.conn)


class Store:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.backend = database.backend
        self._box = box

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        async with self.database.begin() as conn:
            yield Tx(conn, self.backend, self._box)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.database.connect() as conn:
            yield Tx(conn, self.backend, self._box)

    async def close(self) -> None:
        await self.database.dispose()
