"""Studio executions: their status follows the time; the conversation their parameters name; the run-time setting."""

from __future__ import annotations

import pytest

from orchestrion.domain.studio import ACTIVE, ENDED, Execution, conversation_named, status_at, updated_at
from orchestrion.settings import Settings, SettingsError

EXECUTION = Execution(
    sid="FN" + "0" * 32,
    account_sid="AC" + "0" * 32,
    flow_sid="FW" + "0" * 32,
    contact_address="+14155550199",
    from_address="+14155550100",
    parameters=None,
    conversation_id=None,
    created_ms=1_000,
    updated_ms=1_000,
    ends_ms=61_000,
)


def test_an_execution_is_active_until_it_ends_then_ended_from_then_on() -> None:
    assert [status_at(EXECUTION, t) for t in (1_000, 60_999, 61_000, 10**12)] == [ACTIVE, ACTIVE, ENDED, ENDED]
    assert (updated_at(EXECUTION, 60_999), updated_at(EXECUTION, 70_000)) == (1_000, 61_000)


def test_the_conversation_named_by_parameters_or_by_agent_connects_handoff_data() -> None:
    assert conversation_named({"conversationId": "conv_conversation_a"}) == "conv_conversation_a"
    assert conversation_named({"HandoffData": {"conversationId": "conv_conversation_b"}}) == "conv_conversation_b"
    assert conversation_named({"HandoffData": "not an object"}) is None
    assert conversation_named(None) is None


def test_the_run_time_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).studio_execution_s == 60.0
    assert Settings.from_env({"ORCHESTRION_STUDIO_EXECUTION_S": "0.5"}).studio_execution_s == 0.5
    with pytest.raises(SettingsError):
        Settings.from_env({"ORCHESTRION_STUDIO_EXECUTION_S": "-1"})
