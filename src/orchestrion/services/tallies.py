"""What the services count for ``/metrics``, once the write that makes it true has committed.

A transaction can roll back and be replayed (a conflict, a lost lease), so
counting inside it could count twice; ``Tx.after_commit`` counts exactly once.
"""

from __future__ import annotations

import re

from orchestrion.domain.models import Action
from orchestrion.domain.sending import SendRequest
from orchestrion.services.context import Context
from orchestrion.store.store import Tx

_CODE = re.compile(r"^(\d{5}):")


def failure_code(reason: str | None) -> str:
    """The Twilio error code a failure reason starts with (``"30003: ..."``), ``other`` without one, ``none``."""
    if reason is None:
        return "none"
    found = _CODE.match(reason)
    return found.group(1) if found else "other"


def action_created(ctx: Context, tx: Tx, request: SendRequest) -> None:
    channel = str(request.channel)
    tx.after_commit(lambda: ctx.metrics.action_created(channel))


def action_finished(ctx: Context, tx: Tx, action: Action) -> None:
    """``action`` just became COMPLETED or FAILED in ``tx``."""
    channel = str(action.request["channel"])  # as SendRequest.to_json wrote it; parsing it all cost ~4 % of a send
    seconds = max(0, (action.completed_ms or action.updated_ms) - action.created_ms) / 1000
    code = failure_code(action.failure_reason)
    status = str(action.status)
    tx.after_commit(lambda: ctx.metrics.action_finished(channel, status, code, seconds))
