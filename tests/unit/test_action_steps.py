"""An Action's transitions on the timeline (services.timeline.ActionView.steps), in the order they happened."""

from __future__ import annotations

from orchestrion.domain.channels import Channel
from orchestrion.domain.models import Action, ActionStatus
from orchestrion.domain.sending import MessageContent, ResolvedEndpoint, SendRequest
from orchestrion.services.timeline import ActionView
from orchestrion.store.sandbox import SandboxMessage

REQUEST = SendRequest(
    Channel.SMS, ResolvedEndpoint("+15005550006", "p1"), (ResolvedEndpoint("+1415", "p2"),), MessageContent("hi")
)


def _action(status: ActionStatus, completed_ms: int | None, reason: str | None = None) -> Action:
    return Action("a", "c", "AC", "SEND_MESSAGE", status, {}, REQUEST.to_json(), reason, 100, 100, completed_ms)


def _message(*history: tuple[str, int], error: str | None = None) -> SandboxMessage:
    return SandboxMessage(
        "SM1", "AC", "a", "c", "SMS", "+15005550006", ["+1415"], "hi", None, None, None, None,
        history[-1][0], None, error, 100, history[-1][1], [{"status": s, "at": at} for s, at in history],
    )  # fmt: skip


def test_a_pending_action_has_one_step() -> None:
    view = ActionView(_action(ActionStatus.PENDING, None), REQUEST, None)
    assert [(s.status, s.at_ms) for s in view.steps()] == [("PENDING", 100)]


def test_the_message_step_that_completed_the_action_comes_before_it() -> None:
    message = _message(("queued", 100), ("sent", 150), ("delivered", 200))
    view = ActionView(_action(ActionStatus.COMPLETED, 150), REQUEST, message)
    assert [(s.status, s.by_sandbox) for s in view.steps()] == [
        ("PENDING", False),
        ("queued", True),
        ("sent", True),
        ("COMPLETED", False),
        ("delivered", True),
    ]


def test_a_failed_action_carries_its_reason() -> None:
    message = _message(("queued", 100), ("failed", 120), error="not a valid number")
    view = ActionView(_action(ActionStatus.FAILED, 120, "21211: not a valid number"), REQUEST, message)
    assert [(s.status, s.detail) for s in view.steps()] == [
        ("PENDING", None),
        ("queued", None),
        ("failed", "not a valid number"),
        ("FAILED", "21211: not a valid number"),
    ]
