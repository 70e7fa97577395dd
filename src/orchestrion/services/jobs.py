"""The background job kinds and the handlers that run them."""

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
