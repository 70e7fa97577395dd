"""Shortcuts for the Actions and sandbox acceptance tests: send, wait with a deadline, inspect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from twilio.rest.conversations.v2.action import ActionInstance, ActionList

from orchestrion.domain.models import ConversationStatus
from orchestrion.runtime import Runtime
from orchestrion.store.store import Tx
from orchestrion.store.tables import metadata
from tests.acceptance.conftest import in_store
from tests.conftest import test_settings
from tests.send_cases import AGENT, CUSTOMER, sms

__all__ = ["AGENT", "CUSTOMER", "sms"]

T = TypeVar("T")

TERMINAL = ("COMPLETED", "FAILED")
WAIT_S = 30.0


def send(
    client: Any,
    conversation_id: str,
    *,
    sender: dict[str, Any] | None = None,
    to: list[dict[str, Any]] | None = None,
    content: dict[str, Any] | None = None,
    channel_settings: dict[str, Any] | None = None,
    type_: str = "SEND_MESSAGE",
) -> ActionInstance:
    """POST a SEND_MESSAGE exactly as an application does with the SDK (explicit nulls included)."""
    request = ActionList.CreateConversationActionRequest(
        {
            "type": type_,
            "payload": {
                "from": sender if sender is not None else sms(AGENT),
                "to": to if to is not None else [sms(CUSTOMER)],
                "content": content if content is not None else {"text": "Your order has shipped"},
                "channelSettings": channel_settings,
            },
        }
    )
    created: ActionInstance = client.conversations.v2.actions(conversation_id).create(request)
    return created


def fetch(client: Any, conversation_id: str, action_id: str) -> ActionInstance:
    found: ActionInstance = client.conversations.v2.actions(conversation_id, action_id).fetch()
    return found


def wait_for(probe: Callable[[], T | None], what: str, timeout_s: float = WAIT_S) -> T:
    """Poll ``probe`` until it returns something, or fail after ``timeout_s`` (a bound, not a timing claim).

    Polls often at first, then less (up to every 0.25 s): the server shares this process.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s}s")
        time.sleep(pause)
        pause = min(0.25, pause * 1.5)


def wait_terminal(client: Any, conversation_id: str, action_id: str, timeout_s: float = WAIT_S) -> ActionInstance:
    def probe() -> ActionInstance | None:
        found = fetch(client, conversation_id, action_id)
        return found if found.status in TERMINAL else None

    return wait_for(probe, f"action {action_id} to end", timeout_s)


def fetch_communication(client: Any, conversation_id: str, communication_id: str) -> Any:
    return client.conversations.v2.communications(conversation_id, communication_id).fetch()


def sandbox_messages(http: Any, **filters: str) -> list[dict[str, Any]]:
    response = http.get("/sandbox/messages", params=filters)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def set_conversation_status(database_url: str, account_sid: str, conversation_id: str, status: str) -> None:
    import dataclasses

    async def work(tx: Tx) -> None:
        conversation = await tx.conversations.get(account_sid, conversation_id)
        assert conversation is not None
        await tx.conversations.update(dataclasses.replace(conversation, status=ConversationStatus(status)))

    in_store(database_url, work)


def communications_with_resource(database_url: str, conversation_id: str, resource_id: str) -> int:
    async def work(tx: Tx) -> int:
        return 0 if await tx.communications.get_by_resource_id(conversation_id, resource_id) is None else 1

    return in_store(database_url, work)


def settle(database_url: str, within_ms: int = 60_000) -> None:
    """Wait until no job is due within a minute (timers set hours ahead may stay)."""

    async def due() -> int:
        runtime = Runtime.build(test_settings(database_url))
        try:
            async with runtime.ctx.store.read() as tx:
                horizon = runtime.ctx.clock.now_ms() + within_ms
                query = sa.select(sa.func.count()).select_from(metadata.tables["jobs"])
                return int((await tx.conn.execute(query.where(sa.column("run_at_ms") < horizon))).scalar_one())
        finally:
            await runtime.ctx.store.close()

    deadline = time.monotonic() + 30
    while asyncio.run(due()):
        assert time.monotonic() < deadline, "jobs still due after 30 s"
        time.sleep(0.05)
