"""The sandbox channel and its inbox (/sandbox/messages), driven through real Actions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import (
    AGENT,
    CUSTOMER,
    fetch,
    sandbox_messages,
    send,
    sms,
    wait_for,
    wait_terminal,
)
from tests.acceptance.conftest import create_conversation
from tests.conftest import LiveServer

SLOW = {"sandbox": {"stepMs": 3_600_000}}


@pytest.fixture
def conversation_id(client: Any, configuration_id: str) -> str:
    return str(create_conversation(client, configuration_id).id)


def test_inbox_lists_messages_oldest_first_with_filters(client: Any, conversation_id: str, http: Any) -> None:
    first = wait_terminal(client, conversation_id, send(client, conversation_id, content={"text": "one"}).id)
    second = wait_terminal(
        client, conversation_id, send(client, conversation_id, to=[sms("+14155550198")], content={"text": "two"}).id
    )
    failed = wait_terminal(client, conversation_id, send(client, conversation_id, to=[sms("+15005550001")]).id)

    listed = sandbox_messages(http)
    assert [m["sid"] for m in listed] == [a.related["messageSid"] for a in (first, second, failed)]
    assert [m["body"] for m in sandbox_messages(http, to=CUSTOMER)] == ["one"]
    assert len(sandbox_messages(http, **{"from": AGENT})) == 3
    assert sandbox_messages(http, **{"from": "+14155550000"}) == []
    assert len(sandbox_messages(http, conversationId=conversation_id)) == 3
    [bad] = sandbox_messages(http, status="failed")
    assert (bad["errorCode"], bad["to"]) == (21211, ["+15005550001"])
    assert bad["errorMessage"] == "The 'To' number +15005550001 is not a valid phone number."
    assert [h["status"] for h in bad["history"]] == ["queued", "failed"]
    assert [m["body"] for m in sandbox_messages(http, limit="2")] == ["two", "Your order has shipped"]


def test_inbox_fetches_one_message_by_sid(client: Any, conversation_id: str, http: Any) -> None:
    done = wait_terminal(client, conversation_id, send(client, conversation_id).id)
    response = http.get(f"/sandbox/messages/{done.related['messageSid']}")
    assert response.status_code == 200
    message = response.json()
    assert (message["sid"], message["conversationId"], message["actionId"], message["channel"]) == (
        done.related["messageSid"],
        conversation_id,
        done.id,
        "SMS",
    )
    assert message["createdAt"].endswith("Z") and all(h["at"].endswith("Z") for h in message["history"])


def test_inbox_is_scoped_to_the_account(
    client: Any, conversation_id: str, http: Any, server: LiveServer, other_account: Any
) -> None:
    done = wait_terminal(client, conversation_id, send(client, conversation_id).id)
    auth = (other_account.account_sid, other_account.auth_token)
    with httpx.Client(base_url=server.url, auth=auth, timeout=10) as other:
        assert other.get("/sandbox/messages").json() == {"messages": []}
        missing = other.get(f"/sandbox/messages/{done.related['messageSid']}")
        assert (missing.status_code, missing.json()["code"]) == (404, 20404)
        assert other.delete("/sandbox/messages").json() == {"deleted": 0}
    assert len(sandbox_messages(http)) == 1


def test_inbox_needs_credentials(server: LiveServer) -> None:
    response = httpx.get(server.url + "/sandbox/messages", timeout=10)
    assert (response.status_code, response.json()["code"]) == (401, 20003)


@pytest.mark.parametrize("query", [{"status": "lost"}, {"limit": "0"}, {"limit": "many"}, {"limit": "1001"}])
def test_inbox_refuses_bad_filters(http: Any, query: dict[str, str]) -> None:
    response = http.get("/sandbox/messages", params=query)
    assert (response.status_code, response.json()["code"]) == (400, 20001)


def test_clearing_the_inbox_still_lets_actions_in_flight_finish(client: Any, conversation_id: str, http: Any) -> None:
    slow = {"sandbox": {"stepMs": 300}}
    created = send(client, conversation_id, channel_settings=slow)
    wait_for(lambda: sandbox_messages(http) or None, "the message to be recorded")
    assert http.delete("/sandbox/messages").json() == {"deleted": 1}
    assert sandbox_messages(http) == []
    assert wait_terminal(client, conversation_id, created.id).status == "COMPLETED"


def test_step_override_slows_only_that_message(client: Any, conversation_id: str, http: Any) -> None:
    slow = send(client, conversation_id, channel_settings=SLOW)
    quick = send(client, conversation_id, to=[sms("+14155550198")])
    assert wait_terminal(client, conversation_id, quick.id).status == "COMPLETED"
    assert fetch(client, conversation_id, slow.id).status == "PENDING"
    [queued] = sandbox_messages(http, status="queued")
    assert queued["to"] == [CUSTOMER]


def test_transient_send_failures_are_retried_until_the_send_succeeds(
    client: Any, conversation_id: str, http: Any
) -> None:
    created = send(client, conversation_id, channel_settings={"sandbox": {"failFirstAttempts": 2}})
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "COMPLETED"
    [message] = sandbox_messages(http, conversationId=conversation_id)
    assert message["sid"] == done.related["messageSid"]


def test_send_delay_knob_delays_but_does_not_fail(client: Any, conversation_id: str, http: Any) -> None:
    created = send(client, conversation_id, channel_settings={"sandbox": {"sendDelayMs": 200}})
    assert wait_terminal(client, conversation_id, created.id).status == "COMPLETED"
    assert len(sandbox_messages(http, conversationId=conversation_id)) == 1


def test_magic_numbers_work_on_whatsapp_addresses(client: Any, conversation_id: str) -> None:
    created = send(
        client,
        conversation_id,
        sender={"address": "whatsapp:+14155550100", "channel": "WHATSAPP"},
        to=[{"address": "whatsapp:+15005550004", "channel": "WHATSAPP"}],
    )
    done = wait_terminal(client, conversation_id, created.id)
    assert done.status == "FAILED" and (done.failure_reason or "").startswith("21610: ")
