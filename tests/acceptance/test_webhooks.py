"""Status callbacks through a live server to a real HTTP receiver on loopback.

The server here is this module's own, on a database of its own (so no other
dispatcher takes its jobs), with a short callback timeout and few attempts so
that retries and give-ups happen quickly. Every wait is bounded by a deadline;
no assertion is about how long something took.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import CUSTOMER, send, sms, wait_for, wait_terminal
from tests.acceptance.conftest import add_participant, create_conversation, make_configuration, record_communication
from tests.acceptance.webhook_receiver import Received, Receiver
from tests.conftest import Credentials, LiveServer, check_contract, new_account, sdk_client, test_settings
from tests.send_cases import SENT_MESSAGE_EVENTS

TIMEOUT_S = 1.0
MAX_ATTEMPTS = 4
LOG = "/sandbox/conversations/{}/webhooks"


@pytest.fixture(scope="module")
def hooks_server(private_database_url: str) -> Iterator[LiveServer]:
    settings = test_settings(private_database_url, webhook_timeout_s=TIMEOUT_S, webhook_max_attempts=MAX_ATTEMPTS)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@dataclass
class Tenant:
    creds: Credentials
    client: Any  # twilio-python
    http: httpx.Client
    database_url: str

    def conversation(self, url: str, method: str = "POST", **fields: Any) -> str:
        """A conversation whose configuration sends its status callbacks to ``url``."""
        configuration_id = make_configuration(
            self.database_url, self.creds.account_sid, statusCallbacks=[{"url": url, "method": method}]
        )
        return str(create_conversation(self.client, configuration_id, **fields).id)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def log(self, conversation_id: str, **params: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.get_log(conversation_id, **params)["webhooks"]
        return entries

    def get_log(self, conversation_id: str, **params: str) -> Any:
        response = self.http.get(LOG.format(conversation_id), params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_log(self, conversation_id: str, status: str, what: str) -> list[dict[str, Any]]:
        """The log once every entry has reached ``status``."""

        def probe() -> list[dict[str, Any]] | None:
            entries = self.log(conversation_id)
            return entries if entries and all(e["status"] == status for e in entries) else None

        return wait_for(probe, what)


@pytest.fixture
def tenant(private_database_url: str, hooks_server: LiveServer) -> Iterator[Tenant]:
    creds = new_account(private_database_url)

    def check(response: httpx.Response) -> None:
        response.read()
        check_contract(response.request.method, str(response.request.url), response.status_code, response.text)

    with httpx.Client(
        base_url=hooks_server.url,
        auth=(creds.account_sid, creds.auth_token),
        timeout=10,
        event_hooks={"response": [check]},
    ) as http:
        yield Tenant(creds, sdk_client(hooks_server, creds), http, private_database_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _types(requests: list[Received]) -> list[str]:
    return [r.event_type for r in requests]


# --- Each event, with the resource exactly as a GET returns it.


def test_creating_a_conversation_sends_conversation_created_then_its_participants(
    tenant: Tenant, receiver: Receiver
) -> None:
    cid = tenant.conversation(
        receiver.url(), participants=[{"name": "Ada", "addresses": [{"channel": "SMS", "address": CUSTOMER}]}]
    )
    created, added = receiver.wait_for_events(2)
    conversation = tenant.get(f"/v2/Conversations/{cid}")
    assert set(created.envelope) == {"eventType", "timestamp", "data"}
    assert (created.event_type, created.data) == ("CONVERSATION_CREATED", conversation)
    assert created.envelope["timestamp"] == conversation["createdAt"]
    assert (added.event_type, added.data) == ("PARTICIPANT_ADDED", conversation["participants"][0])


def test_a_participant_nobody_named_is_announced_with_its_address_as_name(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url(), participants=[{"addresses": [{"channel": "SMS", "address": CUSTOMER}]}])
    _, added = receiver.wait_for_events(2)
    assert (added.event_type, added.data["name"]) == ("PARTICIPANT_ADDED", CUSTOMER)
    assert added.data == tenant.get(f"/v2/Conversations/{cid}")["participants"][0]


def test_changing_a_conversation_sends_conversation_updated(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    assert tenant.http.patch(f"/v2/Conversations/{cid}", json={"name": "Renamed", "status": "INACTIVE"}).is_success
    _, updated = receiver.wait_for_events(2)
    assert (updated.event_type, updated.data) == ("CONVERSATION_UPDATED", tenant.get(f"/v2/Conversations/{cid}"))
    assert (updated.data["name"], updated.data["status"]) == ("Renamed", "INACTIVE")


def test_a_change_that_changes_nothing_sends_nothing(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url(), name="Same")
    assert tenant.http.patch(f"/v2/Conversations/{cid}", json={"name": "Same"}).is_success
    assert _types(receiver.wait_for_events(1)) == ["CONVERSATION_CREATED"]
    assert [e["eventType"] for e in tenant.log(cid)] == ["CONVERSATION_CREATED"]


def test_participants_added_updated_and_removed_send_their_events(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    pid = add_participant(tenant.client, cid, name="Ada", addresses=[sms(CUSTOMER)]).id
    added_view = tenant.get(f"/v2/Conversations/{cid}/Participants/{pid}")
    assert tenant.http.put(f"/v2/Conversations/{cid}/Participants/{pid}", json={"name": "Ada L."}).is_success
    updated_view = tenant.get(f"/v2/Conversations/{cid}/Participants/{pid}")
    assert tenant.http.delete(f"/v2/Conversations/{cid}/Participants/{pid}").status_code == 204

    _, added, updated, removed = receiver.wait_for_events(4)
    assert (added.event_type, added.data) == ("PARTICIPANT_ADDED", added_view)
    assert (updated.event_type, updated.data) == ("PARTICIPANT_UPDATED", updated_view)
    assert (removed.event_type, removed.data) == ("PARTICIPANT_REMOVED", updated_view)


def test_recording_a_communication_sends_communication_created(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    communication_id = record_communication(tenant.client, cid, "Hi there").id
    _, created = receiver.wait_for_events(2)
    assert created.event_type == "COMMUNICATION_CREATED"
    assert created.data == tenant.get(f"/v2/Conversations/{cid}/Communications/{communication_id}")


def test_a_sent_message_reports_its_action_and_each_delivery_status(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    done = wait_terminal(tenant.client, cid, send(tenant.client, cid).id)
    assert done.status == "COMPLETED"
    communication_id = done.related["communicationId"]

    def delivered(requests: list[Received]) -> list[Received] | None:
        if not requests or requests[-1].event_type != "COMMUNICATION_UPDATED":
            return None
        return requests if requests[-1].data["recipients"][0]["deliveryStatus"] == "DELIVERED" else None

    events = receiver.wait_for(delivered, "the DELIVERED delivery status")
    assert _types(events) == SENT_MESSAGE_EVENTS
    communication, action, update = events[3], events[4], events[5]
    assert action.data == tenant.get(f"/v2/Conversations/{cid}/Actions/{done.id}")
    assert action.data["status"] == "COMPLETED"
    assert communication.data["id"] == communication_id
    assert communication.data["recipients"][0]["deliveryStatus"] != "DELIVERED"
    assert update.data == tenant.get(f"/v2/Conversations/{cid}/Communications/{communication_id}")


def test_a_failed_send_reports_the_action_failed(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    done = wait_terminal(tenant.client, cid, send(tenant.client, cid, to=[sms("+15005550001")]).id)
    assert done.status == "FAILED"

    def action_event(requests: list[Received]) -> Received | None:
        return next((r for r in requests if r.event_type == "ACTION_UPDATED"), None)

    event = receiver.wait_for(action_event, "ACTION_UPDATED")
    assert event.data == tenant.get(f"/v2/Conversations/{cid}/Actions/{done.id}")
    assert event.data["status"] == "FAILED" and event.data["failureReason"].startswith("21211: ")


def test_a_delivery_failure_after_completion_is_a_communication_update(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    done = wait_terminal(tenant.client, cid, send(tenant.client, cid, to=[sms("+15005550010")]).id)
    assert done.status == "COMPLETED"

    def failed(requests: list[Received]) -> Received | None:
        return next(
            (
                r
                for r in requests
                if r.event_type == "COMMUNICATION_UPDATED" and r.data["recipients"][0]["deliveryStatus"] == "FAILED"
            ),
            None,
        )

    event = receiver.wait_for(failed, "COMMUNICATION_UPDATED with deliveryStatus FAILED")
    assert event.data["id"] == done.related["communicationId"]


# --- Signature, idempotency token, request id.


def test_every_callback_is_signed_so_that_twilios_validator_accepts_it(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url("/hooks?tenant=a%20b"))
    add_participant(tenant.client, cid, name="Ada", addresses=[sms(CUSTOMER)])
    events = receiver.wait_for_events(2)
    assert all(r.signed_with(tenant.creds.auth_token) for r in events)
    assert not any(r.signed_with("0" * 32) for r in events)
    assert all(r.query["tenant"] == ["a b"] and r.headers["content-type"] == "application/json" for r in events)


def test_get_callbacks_carry_the_envelope_in_the_query_signed(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url(), method="GET")
    [event] = receiver.wait_for_events(1)
    assert (event.method, event.body) == ("GET", "")
    assert event.event_type == "CONVERSATION_CREATED"
    assert event.data == tenant.get(f"/v2/Conversations/{cid}")
    assert event.signed_with(tenant.creds.auth_token)


def test_each_event_has_its_own_idempotency_token_and_each_attempt_its_own_request_id(
    tenant: Tenant, receiver: Receiver
) -> None:
    cid = tenant.conversation(receiver.url())
    add_participant(tenant.client, cid, addresses=[sms(CUSTOMER)])
    first, second = receiver.wait_for_events(2)
    assert first.token != second.token
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert [e["idempotencyToken"] for e in tenant.log(cid)] == [first.token, second.token]


# --- Retries: 5xx and timeouts are retried with the same token; 4xx is not.


def test_a_500_is_retried_with_the_same_token_and_body(tenant: Tenant, receiver: Receiver) -> None:
    receiver.answer = lambda r: 500 if r.number == 1 else 200
    cid = tenant.conversation(receiver.url())
    first, retry = receiver.wait_for_events(2)
    assert (first.token, first.body) == (retry.token, retry.body)
    assert first.headers["x-request-id"] != retry.headers["x-request-id"]
    [entry] = tenant.wait_log(cid, "DELIVERED", "the retried event to be delivered")
    assert [(a["number"], a["statusCode"], a["error"]) for a in entry["attempts"]] == [
        (1, 500, "HTTP 500"),
        (2, 200, None),
    ]


def test_a_receiver_that_does_not_answer_in_time_is_tried_again(tenant: Tenant, receiver: Receiver) -> None:
    late = threading.Event()

    def answer(r: Received) -> int:
        if r.number == 1:
            late.wait(timeout=30)  # past the server's callback timeout
            return 200
        late.set()
        return 200

    receiver.answer = answer
    cid = tenant.conversation(receiver.url())
    first, retry = receiver.wait_for_events(2)
    assert first.token == retry.token
    [entry] = tenant.wait_log(cid, "DELIVERED", "the timed-out event to be delivered")
    attempt_1, attempt_2 = entry["attempts"]
    assert (attempt_1["statusCode"], attempt_1["error"]) == (None, f"no answer within {TIMEOUT_S:g} s")
    assert attempt_2["statusCode"] == 200


def test_a_400_is_not_retried(tenant: Tenant, receiver: Receiver) -> None:
    receiver.answer = lambda r: 400
    cid = tenant.conversation(receiver.url())
    [entry] = tenant.wait_log(cid, "FAILED", "the refused event to fail")
    assert [(a["number"], a["statusCode"]) for a in entry["attempts"]] == [(1, 400)]
    assert entry["failureReason"] == "HTTP 400: not retried (after 1 attempt)"
    assert len(receiver.requests()) == 1


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(tenant: Tenant, receiver: Receiver) -> None:
    receiver.answer = lambda r: 503
    cid = tenant.conversation(receiver.url())
    [entry] = tenant.wait_log(cid, "FAILED", "the event to run out of attempts")
    assert [a["statusCode"] for a in entry["attempts"]] == [503] * MAX_ATTEMPTS
    assert entry["failureReason"] == f"HTTP 503 (after {MAX_ATTEMPTS} attempts)"


# --- Order: one conversation's events in order; conversations independent.


def test_one_conversations_events_arrive_in_order_behind_a_slow_receiver(tenant: Tenant, receiver: Receiver) -> None:
    def slow(_r: Received) -> int:
        time.sleep(0.2)  # well within the callback timeout: slow, not failing
        return 200

    receiver.answer = slow
    cid = tenant.conversation(receiver.url())
    names = [f"step {n}" for n in range(1, 6)]
    for name in names:
        assert tenant.http.patch(f"/v2/Conversations/{cid}", json={"name": name}).is_success
    events = receiver.wait_for_events(1 + len(names))
    assert [e.data["name"] for e in events] == [None, *names]
    assert [e.answered_before for e in events] == list(range(len(events)))  # each came after the last was answered


def test_a_stuck_receiver_does_not_hold_back_another_conversation(tenant: Tenant, receiver: Receiver) -> None:
    release = threading.Event()

    def answer(r: Received) -> int:
        if r.path == "/stuck":
            release.wait(timeout=30)
        return 200

    receiver.answer = answer
    stuck = tenant.conversation(receiver.url("/stuck"))
    receiver.wait_for_events(1, "/stuck")
    free = tenant.conversation(receiver.url("/free"))
    [event] = receiver.wait_for_events(1, "/free")
    assert event.data["id"] == free
    assert [e["status"] for e in tenant.log(stuck)] == ["PENDING"]  # still held when the other went through
    release.set()
    tenant.wait_log(stuck, "DELIVERED", "the held event to be delivered")


# --- Which callbacks: configuration's, inline override, emptied list.


def test_inline_status_callbacks_replace_the_configurations(tenant: Tenant, receiver: Receiver) -> None:
    configuration_id = make_configuration(
        tenant.database_url, tenant.creds.account_sid, statusCallbacks=[{"url": receiver.url("/configured")}]
    )
    inline = {"statusCallbacks": [{"url": receiver.url("/inline")}]}
    cid = create_conversation(tenant.client, configuration_id, configuration=inline).id
    assert [e["url"] for e in tenant.log(cid)] == [receiver.url("/inline")]


def test_an_emptied_callback_list_stops_delivery(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    patched = tenant.http.patch(f"/v2/Conversations/{cid}", json={"configuration": {"statusCallbacks": []}})
    assert patched.is_success
    assert tenant.http.patch(f"/v2/Conversations/{cid}", json={"name": "unheard"}).is_success
    record_communication(tenant.client, cid)
    assert [e["eventType"] for e in tenant.log(cid)] == ["CONVERSATION_CREATED"]


# --- The delivery log.


def test_the_delivery_log_shows_each_event_and_attempt(tenant: Tenant, receiver: Receiver) -> None:
    receiver.answer = lambda r: 502 if r.number == 1 else 204
    cid = tenant.conversation(receiver.url())
    first, retry = receiver.wait_for_events(2)
    [entry] = tenant.wait_log(cid, "DELIVERED", "the event to be delivered")
    assert entry["id"] == entry["idempotencyToken"] == first.token
    assert (entry["conversationId"], entry["eventType"], entry["url"], entry["method"]) == (
        cid,
        "CONVERSATION_CREATED",
        receiver.url(),
        "POST",
    )
    assert entry["payload"] == retry.envelope
    assert entry["failureReason"] is None and entry["completedAt"] is not None
    attempt_1, attempt_2 = entry["attempts"]
    assert (attempt_1["number"], attempt_1["statusCode"], attempt_1["requestId"]) == (
        1,
        502,
        first.headers["x-request-id"],
    )
    assert (attempt_2["number"], attempt_2["statusCode"], attempt_2["error"]) == (2, 204, None)
    assert all(isinstance(a["latencyMs"], int) and a["latencyMs"] >= 0 for a in entry["attempts"])


def test_the_delivery_log_pages_and_filters_by_event_type(tenant: Tenant, receiver: Receiver) -> None:
    cid = tenant.conversation(receiver.url())
    for n in range(3):
        add_participant(tenant.client, cid, addresses=[sms(f"+1415555020{n}")])
    first = tenant.get_log(cid, pageSize="2")
    second = tenant.get_log(cid, pageSize="2", pageToken=first["meta"]["nextToken"])
    assert [e["eventType"] for e in first["webhooks"] + second["webhooks"]] == [
        "CONVERSATION_CREATED",
        *["PARTICIPANT_ADDED"] * 3,
    ]
    assert len(tenant.log(cid, eventType="PARTICIPANT_ADDED")) == 3
    assert tenant.http.get(LOG.format(cid), params={"eventType": "NOPE"}).status_code == 400


def test_another_accounts_delivery_log_is_404(
    tenant: Tenant, receiver: Receiver, private_database_url: str, hooks_server: LiveServer
) -> None:
    cid = tenant.conversation(receiver.url())
    other = new_account(private_database_url)
    response = httpx.get(hooks_server.url + LOG.format(cid), auth=(other.account_sid, other.auth_token), timeout=10)
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_the_delivery_log_needs_credentials(tenant: Tenant, receiver: Receiver, hooks_server: LiveServer) -> None:
    cid = tenant.conversation(receiver.url())
    assert httpx.get(hooks_server.url + LOG.format(cid), timeout=10).status_code == 401
