"""Records for arranging state directly in the store."""

from __future__ import annotations

from typing import Any

from orchestrion.domain import ids
from orchestrion.domain.models import Configuration, Conversation, ConversationStatus


def new_configuration(account_sid: str, **settings: Any) -> Configuration:
    """A configuration with a unique name, grouping by participant addresses."""
    return Configuration(
        id=ids.new_id(ids.CONFIGURATION),
        account_sid=account_sid,
        display_name=f"cfg {ids.new_secret()[:8]}",
        description="",
        grouping_type="GROUP_BY_PARTICIPANT_ADDRESSES",
        memory_store_id="mem_store_test",
        settings=settings,
        version=1,
        created_ms=0,
        updated_ms=0,
    )


def new_conversation(account_sid: str, configuration_id: str, *, created_ms: int = 0, **fields: Any) -> Conversation:
    """An ACTIVE conversation of that configuration, with no configuration override."""
    values: dict[str, Any] = {
        "id": ids.new_id(ids.CONVERSATION),
        "account_sid": account_sid,
        "configuration_id": configuration_id,
        "configuration_version": 1,
        "configuration": {},
        "status": ConversationStatus.ACTIVE,
        "name": None,
        "metadata": {},
        "status_callbacks": None,
        "created_ms": created_ms,
        "updated_ms": created_ms,
    }
    return Conversation(**(values | fields))


async def public_address(_host: str, _port: int) -> list[str]:
    """A resolver for webhook senders in tests: every host is hooks.example.com's public address.

    Callback hosts are resolved and checked before every attempt (no link-local or metadata
    destination); tests that answer with an in-memory transport still need an address that passes.
    """
    return ["93.184.215.14"]
