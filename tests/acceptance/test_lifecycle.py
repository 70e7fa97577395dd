"""Status timeouts driven by the test clock: ACTIVE -> INACTIVE -> CLOSED without waiting an hour.

The test clock moves domain time only: the leases of jobs in flight and retry
backoffs keep running on real time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import (
    create_configuration,
    create_conversation,
    make_configuration,
    record_communication,
)
from tests.acceptance.webhook_receiver import Received, Receiver
from tests.conftest import Credentials, LiveServer, new_account, sdk_client, test_settings

TIMEOUTS = {"SMS": {"statusTimeouts": {"inactive": 5, "closed": 60}}}
# Connection refused at once: the delivery log still records every event.
CALLBACKS = [{"url": "http://127.0.0.1:9/hooks", "method": "POST"}]


@pytest.fixture(scope="module")
def clock_server(private_database_url: str) -> Iterator[LiveServer]:
    """A server with the test clock on, on a database of its own (moving time must not disturb other tests)."""
    settings = test_settings(private_database_url, test_clock=True, test_clock_allow_postgres=True)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def clock_account(private_database_url: str, clock_server: LiveServer) -> Credentials:
    return new_account(private_database_url)


@pytest.fixture
def clock_client(clock_server: LiveServer, clock_account: Credentials) -> Any:
    return sdk_client(clock_server, clock_account)


@pytest.fixture
def clock_http(clock_server: LiveServer, clock_account: Credentials) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=clock_server.url, auth=(clock_account.account_sid, clock_account.auth_token), timeout=30
    ) as c:
        yield c


def advance(http: httpx.Client, **amount: float) -> dict[str, Any]:
    response = http.post("/sandbox/clock/advance", json=amount)
    assert response.status_code == 200, response.text
    moved: dict[str, Any] = response.json()
    assert moved["settled"] is True
    return moved


def status(client: Any, conversation_id: str) -> str:
    return str(client.conversations.v2.conversations(conversation_id).fetch().status)


@pytest.fixture
def conversation_id(clock_client: Any) -> str:
    configuration_id = create_configuration(clock_client, channelSettings=TIMEOUTS)
    return str(create_conversation(clock_client, configuration_id).id)


def test_the_test_clock_is_off_unless_enabled(http: Any) -> None:
    assert http.get("/sandbox/clock").status_code == 404
    assert http.post("/sandbox/clock/advance", json={"minutes": 1}).status_code == 404


def test_the_test_clock_needs_credentials(clock_server: LiveServer) -> None:
    assert httpx.get(f"{clock_server.url}/sandbox/clock").status_code == 401


def test_advancing_the_clock_moves_the_server_time_forward(clock_http: httpx.Client) -> None:
    before = clock_http.get("/sandbox/clock").json()
    moved = advance(clock_http, minutes=5)
    assert moved["offsetMs"] == before["offsetMs"] + 300_000
    assert moved["nowMs"] >= before["nowMs"] + 300_000
    assert clock_http.get("/sandbox/clock").json()["offsetMs"] == moved["offsetMs"]


@pytest.mark.parametrize("body", [{}, {"minutes": 1, "seconds": 1}, {"minutes": 0}, {"minutes": -5}, {"days": 1}])
def test_an_advance_needs_exactly_one_positive_amount(clock_http: httpx.Client, body: dict[str, Any]) -> None:
    response = clock_http.post("/sandbox/clock/advance", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_new_resources_are_stamped_with_the_advanced_time(clock_client: Any, clock_http: httpx.Client) -> None:
    moved = advance(clock_http, hours=24)
    configuration_id = create_configuration(clock_client)
    created = create_conversation(clock_client, configuration_id)
    assert created.created_at.timestamp() * 1000 >= moved["nowMs"] - 1000


def test_a_quiet_conversation_goes_inactive_then_active_again_then_closed(
    clock_client: Any, clock_http: httpx.Client, conversation_id: str
) -> None:
    record_communication(clock_client, conversation_id, "hello")
    advance(clock_http, minutes=5)
    assert status(clock_client, conversation_id) == "INACTIVE"

    record_communication(clock_client, conversation_id, "I am back")
    assert status(clock_client, conversation_id) == "ACTIVE"

    advance(clock_http, minutes=60)
    assert status(clock_client, conversation_id) == "CLOSED"


def test_activity_postpones_the_inactive_timeout(
    clock_client: Any, clock_http: httpx.Client, conversation_id: str
) -> None:
    record_communication(clock_client, conversation_id, "one")
    advance(clock_http, minutes=3)
    record_communication(clock_client, conversation_id, "two")
    advance(clock_http, minutes=3)
    assert status(clock_client, conversation_id) == "ACTIVE"
    advance(clock_http, minutes=2)
    assert status(clock_client, conversation_id) == "INACTIVE"


def test_a_conversation_quiet_past_both_timeouts_closes_in_one_advance(
    clock_client: Any, clock_http: httpx.Client, conversation_id: str
) -> None:
    advance(clock_http, minutes=90)
    assert status(clock_client, conversation_id) == "CLOSED"


def test_a_conversation_without_timeouts_stays_active(clock_client: Any, clock_http: httpx.Client) -> None:
    conversation_id = create_conversation(clock_client, create_configuration(clock_client)).id
    advance(clock_http, hours=1000)
    assert status(clock_client, conversation_id) == "ACTIVE"


def test_status_timeouts_announce_each_move_as_conversation_updated(
    clock_client: Any, clock_http: httpx.Client
) -> None:
    configuration_id = create_configuration(clock_client, channelSettings=TIMEOUTS, statusCallbacks=CALLBACKS)
    conversation_id = create_conversation(clock_client, configuration_id).id
    advance(clock_http, minutes=5)
    advance(clock_http, minutes=60)
    response = clock_http.get(
        f"/sandbox/conversations/{conversation_id}/webhooks", params={"eventType": "CONVERSATION_UPDATED"}
    )
    assert response.status_code == 200, response.text
    statuses = [d["payload"]["data"]["status"] for d in response.json()["webhooks"]]
    assert statuses == ["INACTIVE", "CLOSED"]


def test_advancing_the_clock_past_the_lease_of_a_delivery_in_flight_does_not_send_it_twice(
    private_database_url: str, clock_account: Credentials, clock_http: httpx.Client
) -> None:
    release = threading.Event()

    def answer(r: Received) -> int:
        if r.number == 1:
            release.wait(timeout=60)  # the first event's delivery is held in flight
        return 204

    receiver = Receiver(answer=answer)
    callbacks = [{"url": receiver.url(), "method": "POST"}]
    configuration_id = make_configuration(private_database_url, clock_account.account_sid, statusCallbacks=callbacks)

    def created(conversation_id: str) -> list[Received]:
        return [r for r in receiver.requests() if r.data["id"] == conversation_id]

    try:
        first = clock_http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        [in_flight] = receiver.wait_for_events(1, what="the first conversation's event")
        advance(clock_http, hours=1)  # far past the job's lease (5 s in the tests' settings)
        # The dispatcher claims again after the advance: this event arrives only once it has.
        second = clock_http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
        receiver.wait_for(lambda _r: created(second) or None, "the second conversation's event")
        release.set()

        def delivered() -> list[dict[str, Any]] | None:
            log = clock_http.get(f"/sandbox/conversations/{first}/webhooks").json()["webhooks"]
            return log if log[0]["status"] == "DELIVERED" else None

        [entry] = wait_for(delivered, "the first event to be delivered")
    finally:
        release.set()
        receiver.close()

    assert [r.token for r in created(first)] == [in_flight.token]
    assert [(a["number"], a["statusCode"]) for a in entry["attempts"]] == [(1, 204)]
