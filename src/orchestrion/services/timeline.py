"""A conversation's timeline: everything that happened in it, in one list, for the console.

It merges four sources, each read newest first up to ``limit`` and shown
oldest first: communications (with each recipient's delivery status), Actions
(PENDING at creation, the downstream message's own steps when the sandbox sent
it, then COMPLETED or FAILED with the failure reason), the conversation's
history (creation, status moves, participants added, changed, removed) and
its status callbacks with every delivery attempt. An Action has only two
states, so its creation and completion times are its whole transition
history; nothing more needs storing.

The read is scoped to the account like every nested resource
(``load_conversation``): another account's conversation is a NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrion.domain.history import PARTICIPANT_KINDS, status_moves
from orchestrion.domain.models import Action, ActionStatus, ConversationView
from orchestrion.domain.sending import SendRequest
from orchestrion.services.context import Context
from orchestrion.services.participants import load_conversation
from orchestrion.services.webhooks import DeliveryView
from orchestrion.store.paging import PageRequest
from orchestrion.store.sandbox import SandboxMessage

DEFAULT_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ActionStep:
    status: str  # PENDING, COMPLETED, FAILED (the Action's), or the message's own: queued, sent, delivered, ...
    at_ms: int
    by_sandbox: bool = False  # a step of the downstream message, not of the Action
    detail: str | None = None  # the failure reason, the sandbox's error


@dataclass(frozen=True, slots=True)
class ActionView:
    action: Action
    request: SendRequest
    message: SandboxMessage | None  # what the sandbox sent for it (None: another provider, or cleared)

    def steps(self) -> list[ActionStep]:
        """The Action's transitions and its message's, in the order they happened.

        On a tie the cause comes first: PENDING, then the message's step, then the terminal status it brought.
        """
        a = self.action
        steps = [ActionStep(str(ActionStatus.PENDING), a.created_ms)]
        if a.completed_ms is not None:
            steps.append(ActionStep(str(a.status), a.completed_ms, detail=a.failure_reason))
        if self.message is not None:
            error = self.message.error_message
            steps += [
                ActionStep(h["status"], h["at"], by_sandbox=True, detail=error if h["status"] == "failed" else None)
                for h in self.message.history
            ]
        return sorted(steps, key=lambda s: (s.at_ms, 0 if s.status == ActionStatus.PENDING else 2 - s.by_sandbox))


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at_ms: int
    kind: str  # "communication" | "action" | "conversation" | "participant" | "webhook"
    item: Any  # Communication | ActionView | StatusMove | HistoryEntry | DeliveryView


@dataclass(frozen=True, slots=True)
class Timeline:
    view: ConversationView
    items: list[TimelineItem]
    truncated: bool  # some source had more than ``limit`` entries: the oldest are not shown


# Same millisecond: the cause before its effects.
_ORDER = {"conversation": 0, "participant": 1, "action": 2, "communication": 3, "webhook": 4}


async def conversation_timeline(
    ctx: Context, account_sid: str, conversation_id: str, limit: int = DEFAULT_LIMIT
) -> Timeline:
    newest = PageRequest(limit=limit, newest_first=True)
    async with ctx.store.read() as tx:
        conversation = await load_conversation(tx, account_sid, conversation_id)
        participants = (await tx.participants.all_for([conversation.id]))[conversation.id]
        communications = await tx.communications.list(conversation.id, newest)
        actions, more_actions = await tx.actions.recent(conversation.id, limit)
        messages = await tx.sandbox.by_keys([a.id for a in actions])
        history, more_history = await tx.history.recent(conversation.id, limit)
        deliveries = await tx.webhooks.list(account_sid, conversation.id, newest)
        attempts = await tx.webhooks.attempts_of([d.id for d in deliveries.items])
    items = [TimelineItem(c.created_ms, "communication", c) for c in communications.items]
    items += [
        TimelineItem(a.created_ms, "action", ActionView(a, SendRequest.from_json(a.request), messages.get(a.id)))
        for a in actions
    ]
    items += [TimelineItem(m.entry.at_ms, "conversation", m) for m in status_moves(history)]
    items += [TimelineItem(e.at_ms, "participant", e) for e in history if e.kind in PARTICIPANT_KINDS]
    items += [TimelineItem(d.created_ms, "webhook", DeliveryView(d, tuple(attempts[d.id]))) for d in deliveries.items]
    items.sort(key=lambda i: (i.at_ms, _ORDER[i.kind]))
    truncated = communications.more_after or more_actions or more_history or deliveries.more_after
    return Timeline(ConversationView(conversation, tuple(participants)), items, truncated)
