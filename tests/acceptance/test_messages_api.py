"""Twilio's Messages API (2010-04-01), emulated: twilio-python's ``client.messages`` against Orchestrion.

Every answer the SDK gets is checked against the Messages part of Twilio's
published ``twilio_api_v2010.json`` (vendored in tests/reference, see its README).
"""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import create_configuration
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import Credentials, LiveServer, checking_http_client, sdk_client
from tests.contract import ContractChecker
from tests.send_cases import fresh_number

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "twilio_api_v2010_messages.json"
CONTRACT = ContractChecker.from_file(REFERENCE, path_uris=True)  # the 2010 API's URIs are paths
AGENT = "+15005550006"


def _customer() -> str:
    return fresh_number("+1415557")


def messages_client(server: LiveServer, creds: Credentials) -> Any:
    """twilio-python as an app uses it for SMS, every answer checked against Twilio's document."""

    def check(method: str, url: str, status: int, text: str) -> None:
        CONTRACT.check(method, url, status, json.loads(text) if text else None)

    client = Client(creds.account_sid, creds.auth_token, http_client=checking_http_client(check))
    client.api.base_url = server.url
    return client


@pytest.fixture
def messages(server: LiveServer, account: Credentials) -> Any:
    return messages_client(server, account)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(answer=lambda _r: 204)
    yield found
    found.close()


def _error(call: Any) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as raised:
        call()
    return raised.value


def _inbox(server: LiveServer, creds: Credentials, to: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.url}/sandbox/messages", params={"to": to}, auth=(creds.account_sid, creds.auth_token), timeout=10
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["messages"]
    return found


def test_a_message_created_with_the_sdk_is_sent_by_the_sandbox_and_fetched_back(
    server: LiveServer, account: Credentials, messages: Any
) -> None:
    to = _customer()
    created = messages.messages.create(to=to, from_=AGENT, body="hello from the 2010 API")
    assert created.sid.startswith("SM") and created.status in ("queued", "sent", "delivered")
    assert (created.to, created.from_, created.body) == (to, AGENT, "hello from the 2010 API")
    assert created.direction == "outbound-api"
    assert created.account_sid == account.account_sid and created.api_version == "2010-04-01"
    assert isinstance(created.date_created, datetime.datetime)
    delivered = wait_for(
        lambda: (m := messages.messages(created.sid).fetch()) and (m if m.status == "delivered" else None),
        "the sandbox to deliver the message",
    )
    assert delivered.date_sent is not None and delivered.error_code is None
    [kept] = _inbox(server, account, to)
    assert (kept["sid"], kept["status"]) == (created.sid, "delivered")


def test_the_answer_is_twilios_2010_json_with_rfc_2822_dates(server: LiveServer, account: Credentials) -> None:
    answer = httpx.post(
        f"{server.url}/2010-04-01/Accounts/{account.account_sid}/Messages.json",
        data={"To": _customer(), "From": AGENT, "Body": "shape", "MediaUrl": ["https://example.com/a.png"]},
        auth=(account.account_sid, account.auth_token),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    CONTRACT.check("POST", str(answer.request.url), 201, body)
    assert email.utils.parsedate_to_datetime(body["date_created"]).tzinfo is not None
    assert body["uri"] == f"/2010-04-01/Accounts/{account.account_sid}/Messages/{body['sid']}.json"
    assert (body["num_media"], body["num_segments"], body["price"]) == ("1", "1", None)
    assert set(body["subresource_uris"]) == {"media", "feedback"}


def test_the_list_is_newest_first_and_pages_by_key_across_pages(messages: Any) -> None:
    to = _customer()
    sent = [messages.messages.create(to=to, from_=AGENT, body=f"n{i}").sid for i in range(5)]
    listed = [m.sid for m in messages.messages.list(to=to, page_size=2)]
    assert listed == list(reversed(sent))
    first = messages.messages.page(to=to, page_size=2)
    assert [m.sid for m in first] == [sent[4], sent[3]] and first.next_page_url is not None
    assert [m.sid for m in first.next_page()] == [sent[2], sent[1]]


def test_the_list_filters_by_from_and_by_the_day_sent(messages: Any) -> None:
    to = _customer()
    mine = messages.messages.create(to=to, from_=AGENT, body="from the agent").sid
    other = messages.messages.create(to=to, from_="+15005550007", body="from another number").sid
    assert [m.sid for m in messages.messages.list(to=to, from_=AGENT)] == [mine]
    today = datetime.datetime.now(datetime.UTC)
    tomorrow = today + datetime.timedelta(days=1)
    assert {m.sid for m in messages.messages.list(to=to, date_sent_after=today - datetime.timedelta(hours=1))} == {
        mine,
        other,
    }
    assert messages.messages.list(to=to, date_sent_after=tomorrow) == []
    assert messages.messages.list(to=to, date_sent_before=today - datetime.timedelta(hours=1)) == []


def test_a_deleted_message_is_not_found_any_more(messages: Any) -> None:
    sid = messages.messages.create(to=_customer(), from_=AGENT, body="short-lived").sid
    assert messages.messages(sid).delete() is True
    error = _error(lambda: messages.messages(sid).fetch())
    assert (error.status, error.code) == (404, 20404)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"From": AGENT, "Body": "no recipient"}, 21604),
        ({"To": "+14155550100", "Body": "no sender"}, 21603),
        ({"To": "+14155550100", "From": AGENT}, 21602),
        ({"To": "not a number", "From": AGENT, "Body": "x"}, 21211),
        ({"To": "+14155550100", "From": "not*a*sender*id", "Body": "x"}, 21212),
        ({"To": "+14155550100", "From": AGENT, "Body": "x" * 1601}, 21617),
        ({"To": "+14155550100", "From": AGENT, "ContentSid": "HX" + "0" * 32, "ContentVariables": "[1]"}, 21656),
        ({"To": "+14155550100", "From": AGENT, "Body": "x", "StatusCallback": "http://169.254.169.254/x"}, 21609),
        ({"To": "+15005550001", "From": AGENT, "Body": "magic"}, 21211),
        ({"To": "+15005550002", "From": AGENT, "Body": "magic"}, 21612),
        ({"To": "whatsapp:+15005550004", "From": "whatsapp:" + AGENT, "Body": "magic"}, 21610),
    ],
)
def test_a_refused_message_gets_twilios_code_and_is_not_sent(
    server: LiveServer, account: Credentials, fields: dict[str, str], code: int
) -> None:
    answer = httpx.post(
        f"{server.url}/2010-04-01/Accounts/{account.account_sid}/Messages.json",
        data=fields,
        auth=(account.account_sid, account.auth_token),
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    CONTRACT.check("POST", str(answer.request.url), 400, body)
    assert body["code"] == code and body["status"] == 400 and body["more_info"].endswith(str(code))
    if "To" in fields:
        assert _inbox(server, account, fields["To"]) == []


def test_the_sdk_raises_twilios_error_for_a_magic_number(messages: Any) -> None:
    error = _error(lambda: messages.messages.create(to="+15005550009", from_=AGENT, body="landline"))
    assert (error.status, error.code) == (400, 21614)


def test_a_body_that_is_not_a_form_is_refused_as_twilio_does(server: LiveServer, account: Credentials) -> None:
    answer = httpx.post(
        f"{server.url}/2010-04-01/Accounts/{account.account_sid}/Messages.json",
        json={"To": "+14155550100", "From": AGENT, "Body": "json"},
        auth=(account.account_sid, account.auth_token),
        timeout=10,
    )
    assert (answer.status_code, answer.json()["code"]) == (400, 21604)


def test_bad_list_parameters_are_refused_not_failed(server: LiveServer, account: Credentials) -> None:
    url = f"{server.url}/2010-04-01/Accounts/{account.account_sid}/Messages.json"
    for params in ({"PageSize": "0"}, {"PageSize": "many"}, {"PageToken": "nonsense"}, {"DateSent": "yesterday"}):
        answer = httpx.get(url, params=params, auth=(account.account_sid, account.auth_token), timeout=10)
        assert (answer.status_code, answer.json()["code"]) == (400, 20001), params


def test_status_callbacks_arrive_in_order_signed_as_twilio_signs(
    messages: Any, account: Credentials, receiver: Receiver
) -> None:
    url = receiver.url("/status?tenant=a")
    created = messages.messages.create(to=_customer(), from_=AGENT, body="tell me", status_callback=url)
    calls = wait_for(lambda: receiver.requests() if len(receiver.requests()) >= 3 else None, "three status callbacks")
    validator = RequestValidator(account.auth_token)
    for call in calls:
        fields = dict(parse_qsl(call.body))
        assert validator.validate(url, fields, call.headers["x-twilio-signature"]), call
        assert call.headers["content-type"] == "application/x-www-form-urlencoded"
        assert (fields["MessageSid"], fields["AccountSid"], fields["From"]) == (created.sid, account.account_sid, AGENT)
    assert [dict(parse_qsl(c.body))["MessageStatus"] for c in calls] == ["queued", "sent", "delivered"]


def test_an_undelivered_message_calls_back_with_its_error_code(messages: Any, receiver: Receiver) -> None:
    url = receiver.url("/undelivered")
    messages.messages.create(to="+15005550010", from_=AGENT, body="unreachable", status_callback=url)
    calls = wait_for(lambda: receiver.requests() if len(receiver.requests()) >= 3 else None, "three status callbacks")
    last = dict(parse_qsl(calls[-1].body))
    assert (last["MessageStatus"], last["ErrorCode"]) == ("undelivered", "30003")


def test_another_accounts_messages_are_not_found_and_not_listed(
    server: LiveServer, account: Credentials, other_account: Credentials, messages: Any
) -> None:
    to = _customer()
    sid = messages.messages.create(to=to, from_=AGENT, body="mine").sid
    intruder = messages_client(server, other_account)
    assert [m.sid for m in intruder.messages.list(to=to)] == []
    for call in (lambda: intruder.messages(sid).fetch(), lambda: intruder.messages(sid).delete()):
        assert _error(call).status == 404
    base = f"{server.url}/2010-04-01/Accounts/{account.account_sid}"
    auth = (other_account.account_sid, other_account.auth_token)
    for answer in (
        httpx.get(f"{base}/Messages.json", auth=auth, timeout=10),
        httpx.get(f"{base}/Messages/{sid}.json", auth=auth, timeout=10),
        httpx.delete(f"{base}/Messages/{sid}.json", auth=auth, timeout=10),
        httpx.post(f"{base}/Messages.json", data={"To": to, "From": AGENT, "Body": "x"}, auth=auth, timeout=10),
    ):
        assert (answer.status_code, answer.json()["code"]) == (404, 20404)
    assert [m.sid for m in messages.messages.list(to=to)] == [sid]


def test_wrong_credentials_are_refused_with_20003(server: LiveServer, account: Credentials) -> None:
    answer = httpx.get(
        f"{server.url}/2010-04-01/Accounts/{account.account_sid}/Messages.json",
        auth=(account.account_sid, "wrong"),
        timeout=10,
    )
    assert (answer.status_code, answer.json()["code"]) == (401, 20003)


def test_a_captured_pair_becomes_an_outbound_communication_with_its_text(
    server: LiveServer, account: Credentials, messages: Any
) -> None:
    conversations = sdk_client(server, account)
    agent = fresh_number("+1415558")
    create_configuration(conversations, channelSettings={"SMS": {"captureRules": [{"from": agent, "to": "*"}]}})
    customer = _customer()
    sid = messages.messages.create(to=customer, from_=agent, body="captured").sid

    def communication() -> Any:
        for conversation in conversations.conversations.v2.conversations.list():  # type: ignore[attr-defined]
            for found in conversations.conversations.v2.communications(conversation.id).list():  # type: ignore[attr-defined]
                if found.resource_id == sid:
                    return found
        return None

    found = wait_for(communication, "the message's Communication")
    assert found.author["address"] == agent and found.content["text"] == "captured"
    delivered = wait_for(
        lambda: (c := communication()) and (c if c.recipients[0]["deliveryStatus"] == "DELIVERED" else None),
        "its recipient to be delivered",
    )
    assert delivered.recipients[0]["address"] == customer


def test_an_uncaptured_pair_makes_no_conversation(server: LiveServer, account: Credentials, messages: Any) -> None:
    conversations = sdk_client(server, account)
    before = len(list(conversations.conversations.v2.conversations.list()))  # type: ignore[attr-defined]
    messages.messages.create(to=_customer(), from_="+14155550199", body="nobody captures this")
    assert len(list(conversations.conversations.v2.conversations.list())) == before  # type: ignore[attr-defined]


def test_a_message_sent_through_a_messaging_service_names_the_service_not_a_number(
    messages: Any, receiver: Receiver
) -> None:
    service = "MG" + "0123456789abcdef" * 2
    url = receiver.url("/service")
    to = _customer()
    created = messages.messages.create(to=to, messaging_service_sid=service, body="pooled", status_callback=url)
    assert (created.messaging_service_sid, created.from_) == (service, None)
    calls = wait_for(lambda: receiver.requests() if len(receiver.requests()) >= 3 else None, "three status callbacks")
    assert {dict(parse_qsl(c.body, keep_blank_values=True))["From"] for c in calls} == {""}
