"""Studio Flow Executions: the stand-in for the Studio API a human handoff starts.

Orchestrion runs no flow: an execution records who started which flow, for
whom and with what ``Parameters``, so an application (or its test) can see
that a handoff happened. It is ``active`` until ``ends_ms`` (its creation
plus the configured run time, or the moment it was ended by hand), then
``ended`` for good. The status is a function of the time, so it needs no
timer, every process agrees on it, and the test clock moves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from orchestrion.domain.models import Json

ACTIVE = "active"
ENDED = "ended"
STATUSES = (ACTIVE, ENDED)

_FLOW_SID = re.compile(r"^FW[0-9a-fA-F]{32}$")
_EXECUTION_SID = re.compile(r"^FN[0-9a-fA-F]{32}$")


@dataclass(frozen=True, slots=True)
class Execution:
    sid: str
    account_sid: str
    flow_sid: str
    contact_address: str  # To
    from_address: str  # From
    parameters: Json | None
    conversation_id: str | None  # named by the parameters, when they name one
    created_ms: int
    updated_ms: int
    ends_ms: int


def is_flow_sid(value: str) -> bool:
    return bool(_FLOW_SID.match(value))


def is_execution_sid(value: str) -> bool:
    return bool(_EXECUTION_SID.match(value))


def status_at(execution: Execution, now_ms: int) -> str:
    return ENDED if now_ms >= execution.ends_ms else ACTIVE


def updated_at(execution: Execution, now_ms: int) -> int:
    """When it last changed: ending is a change."""
    return max(execution.updated_ms, execution.ends_ms) if now_ms >= execution.ends_ms else execution.updated_ms


def conversation_named(parameters: Json | None) -> str | None:
    """The conversation ``Parameters`` name: ``conversationId``, or Twilio Agent Connect's ``HandoffData``."""
    if not parameters:
        return None
    for holder in (parameters, parameters.get("HandoffData")):
        if isinstance(holder, dict):
            found: Any = holder.get("conversationId")
            if isinstance(found, str) and found:
                return found
    return None
