"""Conversation create answers 409 + X-Conflicting-Resource-Id when its participants already form an open conversation.

"The same conversation" is the configuration's grouping, exactly as ingestion
groups messages: the tests mix conversations made by the API and by a
customer's message.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import AGENT, CUSTOMER
from tests.acceptance.conftest import create_configuration, create_conversation, rest_error
from tests.conftest import Credentials, LiveServer

OTHER = "+14155550177"


def party(kind: str, address: str, channel: str = "SMS") -> dict[str, Any]:
    return {"type": kind, "addresses": [{"channel": channel, "address": address}]}


PAIR = [party("CUSTOMER", CUSTOMER), party("AI_AGENT", AGENT)]


def configure(client: Any, grouping: str = "GROUP_BY_PARTICIPANT_ADDRESSES") -> str:
    rules = {c: {"captureRules": [{"from": "*", "to": p + AGENT}]} for c, p in (("SMS", ""), ("WHATSAPP", "whatsapp:"))}
    return create_configuration(client, conversationGroupingType=grouping, channelSettings=rules)


def post(http: httpx.Client, configuration_id: str, participants: list[dict[str, Any]]) -> httpx.Response:
    return http.post("/v2/Conversations", json={"configurationId": configuration_id, "participants": participants})


def created(http: httpx.Client, configuration_id: str, participants: list[dict[str, Any]]) -> str:
    response = post(http, configuration_id, participants)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def conflicting(response: httpx.Response) -> str:
    assert (response.status_code, response.json()["code"]) == (409, 20409), response.text
    return response.headers["X-Conflicting-Resource-Id"]


def test_the_same_participants_again_is_409_naming_the_open_conversation(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    assert conflicting(post(http, configuration_id, PAIR)) == first
    assert conflicting(post(http, configuration_id, list(reversed(PAIR)))) == first
    assert [c.id for c in client.conversations.v2.conversations.list()] == [first]


def test_the_sdk_sees_the_409(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    created(http, configuration_id, PAIR)
    error = rest_error(lambda: create_conversation(client, configuration_id, participants=PAIR))
    assert (error.status, error.code) == (409, 20409)


def test_an_inactive_conversation_is_still_the_one(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    assert http.patch(f"/v2/Conversations/{first}", json={"status": "INACTIVE"}).is_success
    assert conflicting(post(http, configuration_id, PAIR)) == first


def test_a_closed_conversation_is_not_reused(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    assert http.patch(f"/v2/Conversations/{first}", json={"status": "CLOSED"}).is_success
    assert created(http, configuration_id, PAIR) != first


def test_another_configuration_or_another_customer_is_another_conversation(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    assert created(http, configure(client), PAIR) != first
    assert created(http, configuration_id, [party("CUSTOMER", OTHER), party("AI_AGENT", AGENT)]) != first


def test_one_participant_alone_is_no_group(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    alone = [party("CUSTOMER", CUSTOMER)]
    assert created(http, configuration_id, alone) != created(http, configuration_id, alone)


def test_by_addresses_the_same_number_on_whatsapp_is_the_same_conversation(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    whatsapp = [
        party("CUSTOMER", f"whatsapp:{CUSTOMER}", "WHATSAPP"),
        party("AI_AGENT", f"whatsapp:{AGENT}", "WHATSAPP"),
    ]
    assert conflicting(post(http, configuration_id, whatsapp)) == first


def test_by_addresses_and_channel_whatsapp_is_another_conversation(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client, "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE")
    first = created(http, configuration_id, PAIR)
    whatsapp = [
        party("CUSTOMER", f"whatsapp:{CUSTOMER}", "WHATSAPP"),
        party("AI_AGENT", f"whatsapp:{AGENT}", "WHATSAPP"),
    ]
    assert created(http, configuration_id, whatsapp) != first
    assert conflicting(post(http, configuration_id, PAIR)) == first


def test_a_conversation_a_customers_message_started_is_reused(
    server: LiveServer, account: Credentials, http: httpx.Client, client: Any
) -> None:
    configuration_id = configure(client)
    answer = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "hi"}).json()
    assert conflicting(post(http, configuration_id, PAIR)) == answer["conversationId"]


def test_a_customers_message_joins_the_conversation_the_api_made(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client)
    first = created(http, configuration_id, PAIR)
    answer = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "hi"}).json()
    assert answer["conversationId"] == first


def test_by_profile_a_customer_gets_a_profile_and_a_second_create_is_409(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client, "GROUP_BY_PROFILE")
    response = post(http, configuration_id, PAIR)
    assert response.status_code == 201
    [customer] = [p for p in response.json()["participants"] if p["type"] == "CUSTOMER"]
    assert customer["profileId"].startswith("mem_profile_")
    # By profile the agent does not matter: any conversation of this customer is the one.
    assert conflicting(post(http, configuration_id, [party("CUSTOMER", CUSTOMER)])) == response.json()["id"]
    answer = http.post("/sandbox/inbound", json={"from": f"whatsapp:{CUSTOMER}", "to": f"whatsapp:{AGENT}"}).json()
    assert answer["conversationId"] == response.json()["id"]


def test_by_profile_a_message_first_then_a_create_is_409(http: httpx.Client, client: Any) -> None:
    configuration_id = configure(client, "GROUP_BY_PROFILE")
    answer = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "hi"}).json()
    assert conflicting(post(http, configuration_id, PAIR)) == answer["conversationId"]


def test_another_accounts_conversation_never_conflicts(
    http: httpx.Client, client: Any, other_client: Any, server: LiveServer, other_account: Credentials
) -> None:
    theirs = configure(other_client)
    with httpx.Client(base_url=server.url, auth=(other_account.account_sid, other_account.auth_token)) as other:
        created(other, theirs, PAIR)
    created(http, configure(client), PAIR)


@pytest.mark.parametrize("grouping", ["GROUP_BY_PARTICIPANT_ADDRESSES", "GROUP_BY_PROFILE"])
def test_concurrent_creates_of_one_group_make_one_conversation(
    server: LiveServer, account: Credentials, client: Any, grouping: str
) -> None:
    configuration_id = configure(client, grouping)
    answers: list[httpx.Response] = []
    start = threading.Barrier(4)

    def create() -> None:
        with httpx.Client(base_url=server.url, auth=(account.account_sid, account.auth_token), timeout=30) as c:
            start.wait()
            answers.append(post(c, configuration_id, PAIR))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    [winner] = [a.json()["id"] for a in answers if a.status_code == 201]
    assert {a.headers["X-Conflicting-Resource-Id"] for a in answers if a.status_code == 409} == {winner}
