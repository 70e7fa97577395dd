"""A conversation's timeline (services.timeline) and history (services.history), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from orchestrion.domain.errors import NotFound
from orchestrion.domain.models import ConversationStatus
from orchestrion.domain.webhooks import DeliveryStatus, EventType
from orchestrion.services import conversations, participants, timeline
from orchestrion.services.conversations import ConversationChange
from orchestrion.store.store import Store
from tests.integration.console_support import CUSTOMER, World, world_on

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest_asyncio.fixture(loop_scope="function")
async def world(store: Store) -> AsyncIterator[World]:
    async for w in world_on(store):
        yield w


def _kinds(found: timeline.Timeline, kind: str) -> list[object]:
    return [i.item for i in found.items if i.kind == kind]


async def test_a_sent_message_shows_its_action_transitions_and_its_communication(world: World) -> None:
    conversation_id = await world.conversation()
    action = await world.send(conversation_id)
    await world.settle()
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    [view] = _kinds(found, "action")
    assert isinstance(view, timeline.ActionView)
    # "sent" and COMPLETED happen in one transaction, at one time: the cause first.
    assert [(s.status, s.by_sandbox) for s in view.steps()] == [
        ("PENDING", False),
        ("queued", True),
        ("sent", True),
        ("COMPLETED", False),
        ("delivered", True),
    ]
    assert view.action.id == action.id and view.message is not None
    [communication] = _kinds(found, "communication")
    assert communication.recipients[0].address == CUSTOMER  # type: ignore[attr-defined]
    assert communication.recipients[0].delivery_status == "DELIVERED"  # type: ignore[attr-defined]


async def test_a_failed_action_shows_its_failure_reason(world: World) -> None:
    conversation_id = await world.conversation()
    await world.send(conversation_id, to="+15005550001")
    await world.settle()
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    [view] = _kinds(found, "action")
    assert isinstance(view, timeline.ActionView)
    [failed] = [s for s in view.steps() if s.status == "FAILED"]
    assert failed.detail is not None and failed.detail.startswith("21211: ")


async def test_status_moves_and_participant_changes_are_in_the_history(world: World) -> None:
    conversation_id = await world.conversation("Order 7")
    participant_id = await world.add_participant(conversation_id, "+14155550177")
    for status in (ConversationStatus.INACTIVE, ConversationStatus.ACTIVE, ConversationStatus.CLOSED):
        world.clock.advance(1_000)
        await conversations.update_conversation(
            world.ctx, world.account_sid, conversation_id, ConversationChange(status=status)
        )
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    moves = [
        (m.entry.kind, m.previous_status, m.entry.data["status"], m.status_changed)  # type: ignore[attr-defined]
        for m in _kinds(found, "conversation")
    ]
    assert moves == [
        (EventType.CONVERSATION_CREATED, None, "ACTIVE", False),
        (EventType.CONVERSATION_UPDATED, "ACTIVE", "INACTIVE", True),
        (EventType.CONVERSATION_UPDATED, "INACTIVE", "ACTIVE", True),
        (EventType.CONVERSATION_UPDATED, "ACTIVE", "CLOSED", True),
    ]
    [added] = _kinds(found, "participant")
    assert (added.kind, added.data["id"], added.data["name"]) == (  # type: ignore[attr-defined]
        EventType.PARTICIPANT_ADDED,
        participant_id,
        "Ann",
    )


async def test_a_removed_participant_stays_in_the_history(world: World) -> None:
    conversation_id = await world.conversation()
    participant_id = await world.add_participant(conversation_id, "+14155550178", name="Bo")
    world.clock.advance(1_000)
    await participants.remove_participant(world.ctx, world.account_sid, conversation_id, participant_id)
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    assert [(h.kind, h.data["name"]) for h in _kinds(found, "participant")] == [  # type: ignore[attr-defined]
        (EventType.PARTICIPANT_ADDED, "Bo"),
        (EventType.PARTICIPANT_REMOVED, "Bo"),
    ]
    assert found.view.participants == ()


async def test_status_callbacks_show_with_each_attempt(world: World) -> None:
    world.answer[0] = 503
    conversation_id = await world.conversation()
    await world.settle()
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    [view] = _kinds(found, "webhook")
    assert view.delivery.status is DeliveryStatus.FAILED  # type: ignore[attr-defined]
    assert [(a.number, a.status_code) for a in view.attempts] == [(1, 503), (2, 503)]  # type: ignore[attr-defined]


async def test_the_timeline_is_in_time_order_with_causes_first(world: World) -> None:
    conversation_id = await world.conversation()
    await world.send(conversation_id)
    await world.settle()
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id)
    assert [i.at_ms for i in found.items] == sorted(i.at_ms for i in found.items)
    assert found.items[0].kind == "conversation"
    first_action = [i.kind for i in found.items].index("action")
    assert [i.kind for i in found.items[first_action - 2 : first_action]] == ["participant", "participant"]
    assert not found.truncated


async def test_only_the_newest_entries_of_a_long_conversation_are_read(world: World) -> None:
    conversation_id = await world.conversation()
    for n in range(3):
        world.clock.advance(1_000)
        await world.add_participant(conversation_id, f"+1415555030{n}")
    found = await timeline.conversation_timeline(world.ctx, world.account_sid, conversation_id, limit=2)
    assert found.truncated
    assert [h.data["addresses"][0]["address"] for h in _kinds(found, "participant")] == [  # type: ignore[attr-defined]
        "+14155550301",
        "+14155550302",
    ]


async def test_another_accounts_conversation_has_no_timeline(world: World) -> None:
    conversation_id = await world.conversation()
    with pytest.raises(NotFound):
        await timeline.conversation_timeline(world.ctx, "AC" + "0" * 32, conversation_id)
