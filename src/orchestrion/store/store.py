"""The store port: one object the services use for every read and write.

``async with store.write() as tx`` is one transaction; ``async with
store.read() as tx`` one autocommit connection. Both expose the same
repositories, named after the resources.

Inside ``Store.fenced(lease)`` (the dispatcher wraps each job's run in it),
every write transaction first checks, with the job's row locked, that the
run still holds its job, and raises ``LeaseLost`` (rolling back) if not. So
a run that stalled past its lease while another worker took the job over
commits nothing, whichever service or channel port does the writing. The
check lives in a context variable because the writes happen deep in the
services a handler calls; each asyncio task has its own context, so it
applies to that one run only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

from orchestrion.domain.errors import LeaseLost
from orchestrion.store.accounts import AccountRepo
from orchestrion.store.actions import ActionRepo
from orchestrion.store.communications import CommunicationRepo
from orchestrion.store.configurations import ConfigurationRepo
from orchestrion.store.conversations import ConversationRepo, ParticipantRepo
from orchestrion.store.database import Database, SqlConnection
from orchestrion.store.grouping import GroupingRepo
from orchestrion.store.history import HistoryRepo
from orchestrion.store.idempotency import IdempotencyRepo
from orchestrion.store.ingestion import IngestionRepo
from orchestrion.store.jobs import JobLease, JobRepo
from orchestrion.store.lifecycle import ClockRepo, LifecycleRepo
from orchestrion.store.memories import MemoryRepo
from orchestrion.store.operations import OperationRepo
from orchestrion.store.profiles import ProfileRepo
from orchestrion.store.providers import ProviderRepo
from orchestrion.store.recall import RecallRepo
from orchestrion.store.sandbox import SandboxRepo
from orchestrion.store.secrets import SecretBox
from orchestrion.store.signatures import SignatureRepo
from orchestrion.store.studio import StudioRepo
from orchestrion.store.webhooks import WebhookRepo


class Tx:
    """Repositories bound to one connection."""

    def __init__(self, conn: SqlConnection, backend: str, box: SecretBox) -> None:
        self.conn = conn
        self._backend = backend
        self._box = box
        self.committed: list[Callable[[], None]] = []

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this write transaction has committed (never if it rolls back)."""
        self.committed.append(hook)

    @cached_property
    def accounts(self) -> AccountRepo:
        return AccountRepo(self.conn, self._box)

    @cached_property
    def providers(self) -> ProviderRepo:
        return ProviderRepo(self.conn, self._box)

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
        return IngestionRepo(self.conn)

    @cached_property
    def grouping(self) -> GroupingRepo:
        return GroupingRepo(self.conn, self._backend)

    @cached_property
    def profiles(self) -> ProfileRepo:
        return ProfileRepo(self.conn)

    @cached_property
    def memories(self) -> MemoryRepo:
        return MemoryRepo(self.conn)

    @cached_property
    def recall(self) -> RecallRepo:
        return RecallRepo(self.conn)

    @cached_property
    def studio(self) -> StudioRepo:
        return StudioRepo(self.conn)

    @cached_property
    def history(self) -> HistoryRepo:
        return HistoryRepo(self.conn)

    @cached_property
    def signatures(self) -> SignatureRepo:
        return SignatureRepo(self.conn)


@dataclass(slots=True)
class JobFence:
    """The run a task's writes are fenced by; ``finished`` once a write of the run deleted its job."""

    lease: JobLease
    finished: bool = False


_FENCE: ContextVar[JobFence | None] = ContextVar("orchestrion_job_fence", default=None)


class Store:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.backend = database.backend
        self._box = box

    @staticmethod
    @contextlib.contextmanager
    def fenced(lease: JobLease) -> Iterator[JobFence]:
        """Make every write transaction of this task conditional on ``lease`` (see the module docstring)."""
        fence = JobFence(lease)
        token = _FENCE.set(fence)
        try:
            yield fence
        finally:
            _FENCE.reset(token)

    @staticmethod
    def job_finished() -> bool:
        """Whether this task runs a job that a committed ``write(finish_job=True)`` already deleted."""
        fence = _FENCE.get()
        return fence is not None and fence.finished

    @staticmethod
    @contextlib.contextmanager
    def unfenced() -> Iterator[None]:
        """Writes that hold whichever run makes them: a provider's status report is a fact about the
        message, as true after the run that sent it has ended (a task it started inherits its fence)."""
        token = _FENCE.set(None)
        try:
            yield
        finally:
            _FENCE.reset(token)

    @contextlib.asynccontextmanager
    async def write(self, *, finish_job: bool = False) -> AsyncIterator[Tx]:
        """One write transaction.

        ``finish_job``: inside a fenced run, this transaction also ends the
        run's job (it holds everything the job was for): the job is deleted
        as the fence check, one statement instead of a check here and a
        transaction of its own afterwards. If it rolls back, the job stays.
        """
        fence = _FENCE.get()
        if fence is not None and fence.finished:
            fence = None  # the job is gone: no other run of it can exist any more
        async with self.database.begin() as conn:
            tx = Tx(conn, self.backend, self._box)
            if fence is not None:
                lease = fence.lease
                held = await (tx.jobs.complete(lease) if finish_job else tx.jobs.hold(lease))
                if not held:
                    raise LeaseLost(
                        f"job {lease.job_id} (attempt {lease.attempt}) is no longer held by {lease.worker_id}"
                    )
            yield tx
        if fence is not None and finish_job:
            fence.finished = True
        for hook in tx.committed:
            hook()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.database.connect() as conn:
            yield Tx(conn, self.backend, self._box)

    async def close(self) -> None:
        await self.database.dispose()
