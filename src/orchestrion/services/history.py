"""Recording a conversation's history (``domain.history``), in the transaction of each change.

``services.events`` calls ``record`` for every conversation and participant
event, before it looks for status callbacks, so the history is complete
whether or not anyone is told.
"""

from __future__ import annotations

from orchestrion.domain.history import conversation_state, participant_state
from orchestrion.domain.models import Conversation, Participant
from orchestrion.domain.webhooks import EventType
from orchestrion.store.store import Tx


async def conversation_changed(tx: Tx, conversation: Conversation, kind: EventType) -> None:
    await tx.history.append(
        conversation.account_sid, conversation.id, kind, conversation.updated_ms, conversation_state(conversation)
    )


async def participant_changed(tx: Tx, participant: Participant, kind: EventType, at_ms: int) -> None:
    await tx.history.append(
        participant.account_sid, participant.conversation_id, kind, at_ms, participant_state(participant)
    )
