"""The background job kinds, the handlers that run them, and the classes they are run in.

Each class has its own slots in a dispatcher (ORCHESTRION_WORKER_CONCURRENCY_<CLASS>), so a
class that waits on others (webhook receivers) can never hold up another (sends).
"""

from __future__ import annotations

from typing import Protocol

from orchestrion.domain.models import Job
from orchestrion.services import actions, lifecycle, sandbox, webhooks
from orchestrion.services.context import Context
from orchestrion.services.operations import JOB_KIND as OPERATION_JOB
from orchestrion.services.operations import OperationRunner


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
    handlers[actions.SEND_JOB] = actions.SendHandler(ctx, sandbox.default_registry(ctx))
    handlers[sandbox.STEP_JOB] = sandbox.StepHandler(ctx)
    handlers[webhooks.DELIVER_JOB] = webhooks.DeliveryHandler(ctx)
    handlers[lifecycle.TIMER_JOB] = lifecycle.TimeoutHandler(ctx)
    return handlers


SENDS = "sends"  # a message's send and the sandbox's timeline: what an Action's status waits on
WEBHOOKS = "webhooks"  # status callbacks: as slow as the receivers
TIMERS = "timers"  # status timeouts and control-plane operations
JOB_CLASSES: dict[str, frozenset[str]] = {
    SENDS: frozenset({actions.SEND_JOB, sandbox.STEP_JOB}),
    WEBHOOKS: frozenset({webhooks.DELIVER_JOB}),
    TIMERS: frozenset({lifecycle.TIMER_JOB, OPERATION_JOB}),
}
