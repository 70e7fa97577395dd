"""The background job kinds, the handlers that run them, the classes they run in, and their dead letters.

Each class has its own slots in a dispatcher (ORCHESTRION_WORKER_CONCURRENCY_<CLASS>), so a
class that waits on others (webhook receivers) can never hold up another (sends).

A job that gives up has recorded its failure through its handler's ``give_up`` and is kept as
a dead letter. An operator may retry one (``orchestrion jobs retry``) when its failure can be
undone: a status-callback delivery (FAILED becomes PENDING again, and the new job's attempts
are numbered after the old ones) or a status timeout (its timer is armed again). A FAILED
Action or operation is final, so their jobs cannot be retried: that is a new request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from orchestrion.domain.errors import InvalidInput, InvalidState, NotFound
from orchestrion.domain.models import Job
from orchestrion.services import actions, lifecycle, messages_api, providers, sandbox, webhooks
from orchestrion.services.context import Context
from orchestrion.services.operations import JOB_KIND as OPERATION_JOB
from orchestrion.services.operations import OperationRunner
from orchestrion.store.jobs import JobEntry
from orchestrion.store.store import Tx


class Handler(Protocol):
    """The contract between the dispatcher and the work it runs."""

    async def run(self, job: Job) -> None:
        """Do the job. Raise ProviderError(transient=True) (or any error) to retry it later."""
        ...

    async def give_up(self, job: Job, reason: str) -> None:
        """Called once when the job has used all its attempts: record the failure."""
        ...


def build_handlers(ctx: Context) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    handlers[OPERATION_JOB] = OperationRunner(ctx)
    downstream = providers.AccountProviders(ctx, sandbox.default_registry(ctx))
    handlers[actions.SEND_JOB] = actions.SendHandler(ctx, downstream)
    handlers[sandbox.STEP_JOB] = sandbox.StepHandler(ctx)
    handlers[webhooks.DELIVER_JOB] = webhooks.DeliveryHandler(ctx)
    handlers[sandbox.API_STATUS_JOB] = messages_api.StatusHandler(ctx)
    handlers[lifecycle.TIMER_JOB] = lifecycle.TimeoutHandler(ctx)
    return handlers


async def close_handlers(handlers: Mapping[str, Handler]) -> None:
    """Release what handlers hold (the providers' HTTP clients) once no job runs any more."""
    for handler in handlers.values():
        close = getattr(handler, "aclose", None)
        if close is not None:
            await close()


SENDS = "sends"  # a message's send and the sandbox's timeline: what an Action's status waits on
WEBHOOKS = "webhooks"  # status callbacks: as slow as the receivers
TIMERS = "timers"  # status timeouts and control-plane operations
JOB_CLASSES: dict[str, frozenset[str]] = {
    SENDS: frozenset({actions.SEND_JOB, sandbox.STEP_JOB}),
    WEBHOOKS: frozenset({webhooks.DELIVER_JOB, sandbox.API_STATUS_JOB}),
    TIMERS: frozenset({lifecycle.TIMER_JOB, OPERATION_JOB}),
}


# --- Dead letters, for operators.

MAX_LIST = 1000
_FINAL = {
    actions.SEND_JOB: "it failed its Action, and FAILED is final: send a new Action instead",
    sandbox.STEP_JOB: "it failed its message's Action, and FAILED is final: send a new Action instead",
    OPERATION_JOB: "it failed its operation, and FAILED is final: submit the change again",
}
Reopen = Callable[[Context, Tx, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _reopen_delivery(ctx: Context, tx: Tx, payload: dict[str, Any]) -> dict[str, Any]:
    delivery_id = str(payload.get("deliveryId", ""))
    delivery = await tx.webhooks.reopen(delivery_id, ctx.clock.now_ms(), only_failed=True)
    if delivery is None:
        raise InvalidState(f"Delivery {delivery_id} is no longer FAILED in the delivery log (delivered, or purged)")
    return {**payload, webhooks.ATTEMPTS_BEFORE: delivery.attempts}


async def _reopen_timer(ctx: Context, tx: Tx, payload: dict[str, Any]) -> dict[str, Any]:
    conversation_id = str(payload.get("conversationId", ""))
    if await tx.conversations.get(str(payload.get("accountSid", "")), conversation_id) is None:
        raise InvalidState(f"Conversation {conversation_id} no longer exists")
    await tx.lifecycle.set_timer(conversation_id, payload["dueMs"])
    return payload


_REOPEN: dict[str, Reopen] = {webhooks.DELIVER_JOB: _reopen_delivery, lifecycle.TIMER_JOB: _reopen_timer}


async def outbox_depth(ctx: Context) -> dict[str, tuple[int, int]]:
    """Per job kind: (jobs waiting or running, dead letters)."""
    async with ctx.store.read() as tx:
        return await tx.jobs.depth()


async def list_jobs(ctx: Context, *, dead: bool = False, kind: str | None = None, limit: int = 100) -> list[JobEntry]:
    """The jobs in the outbox (or the dead letters), oldest first."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIST}")
    async with ctx.store.read() as tx:
        return await tx.jobs.entries(dead=dead, kind=kind, limit=limit)


async def retry_dead_job(ctx: Context, dead_id: int) -> int:
    """Put a dead job back in the outbox, undoing its recorded failure; the new job's id."""
    async with ctx.store.write() as tx:
        entry = await tx.jobs.dead(dead_id)
        if entry is None:
            raise NotFound("dead job", str(dead_id))
        reopen = _REOPEN.get(entry.kind)
        if reopen is None:
            reason = _FINAL.get(entry.kind, "no handler can undo its failure")
            raise InvalidState(f"Dead job {dead_id} ({entry.kind}) cannot be retried: {reason}")
        payload = await reopen(ctx, tx, entry.payload)
        new_id = await tx.jobs.revive(dead_id, payload=payload, now_ms=ctx.clock.now_ms())
    assert new_id is not None  # found above, in this transaction
    ctx.wakeup.notify()
    return new_id
