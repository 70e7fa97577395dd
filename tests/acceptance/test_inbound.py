"""Inbound traffic: Twilio's signed webhooks and the sandbox's simulated messages, captured into conversations."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.acceptance.actions_support import AGENT, CUSTOMER, fetch, send, set_conversation_status, wait_for
from tests.acceptance.conftest import create_configuration, create_conversation
from tests.conftest import Credentials, LiveServer

OTHER_CUSTOMER = "+14155550177"
SLOW = {"sandbox": {"stepMs": 3_600_000}}
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def message_sid() -> str:
    return "SM" + uuid.uuid4().hex


def rules(*channels: str, sender: str = "*", to: str = AGENT) -> dict[str, Any]:
    prefix = {"SMS": "", "WHATSAPP": "whatsapp:", "RCS": "rcs:"}
    return {c: {"captureRules": [{"from": sender, "to": f"{prefix[c]}{to}" if to != "*" else "*"}]} for c in channels}


def configure(client: Any, grouping: str = "GROUP_BY_PARTICIPANT_ADDRESSES", **channel_settings: Any) -> str:
    return create_configuration(
        client, conversationGroupingType=grouping, channelSettings=channel_settings or rules("SMS")
    )


def post_signed(
    server: LiveServer,
    account: Credentials,
    kind: str,
    params: dict[str, str],
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    signed_url: str | None = None,
) -> httpx.Response:
    """POST a form exactly as Twilio does, signed with the account's auth token (or ``token``)."""
    url = f"{server.url}/twilio/{account.account_sid}/{kind}"
    signature = RequestValidator(token or account.auth_token).compute_signature(signed_url or url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature, **(headers or {})}, timeout=10)


def incoming(
    server: LiveServer,
    account: Credentials,
    body: str = "hello",
    *,
    sender: str = CUSTOMER,
    to: str = AGENT,
    sid: str | None = None,
) -> str:
    sid = sid or message_sid()
    params = {"MessageSid": sid, "AccountSid": account.account_sid, "From": sender, "To": to, "Body": body}
    response = post_signed(server, account, "messages", {**params, "NumMedia": "0"})
    assert response.status_code == 200, response.text
    assert response.text == TWIML
    return sid


def conversations(client: Any) -> list[Any]:
    return list(client.conversations.v2.conversations.list())


def communications(client: Any, conversation_id: str) -> list[Any]:
    return list(client.conversations.v2.communications(conversation_id).list())


def participants(client: Any, conversation_id: str) -> list[Any]:
    return list(client.conversations.v2.participants(conversation_id).list())


def test_a_signed_incoming_message_starts_a_conversation_with_customer_and_agent(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configuration_id = configure(client)
    sid = incoming(server, account, "Where is my order?")

    [conversation] = conversations(client)
    assert (conversation.configuration_id, conversation.status) == (configuration_id, "ACTIVE")
    [communication] = communications(client, conversation.id)
    assert communication.resource_id == sid
    assert communication.content["text"] == "Where is my order?"
    assert communication.author["address"] == CUSTOMER
    assert communication.recipients[0]["address"] == AGENT
    kinds = {p.addresses[0]["address"]: p.type for p in participants(client, conversation.id)}
    assert kinds == {CUSTOMER: "CUSTOMER", AGENT: "AGENT"}


def test_participants_made_by_ingestion_are_named_after_their_address(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)
    incoming(server, account)
    [conversation] = conversations(client)
    assert sorted(p.name for p in participants(client, conversation.id)) == sorted([CUSTOMER, AGENT])


def test_a_wrongly_signed_message_is_refused_with_no_effect(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)
    params = {"MessageSid": message_sid(), "From": CUSTOMER, "To": AGENT, "Body": "forged"}
    assert post_signed(server, account, "messages", params, token="not-the-token").status_code == 403
    unsigned = httpx.post(f"{server.url}/twilio/{account.account_sid}/messages", data=params, timeout=10)
    assert unsigned.status_code == 403
    assert conversations(client) == []


def test_a_message_for_an_unknown_account_is_refused(server: LiveServer, account: Credentials) -> None:
    stranger = Credentials("AC" + uuid.uuid4().hex, account.auth_token)
    params = {"MessageSid": message_sid(), "From": CUSTOMER, "To": AGENT}
    assert post_signed(server, stranger, "messages", params).status_code == 403


def test_the_signature_is_checked_on_the_url_the_proxy_received(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)
    params = {"MessageSid": message_sid(), "From": CUSTOMER, "To": AGENT, "Body": "via proxy"}
    public = f"https://hooks.example.com/twilio/{account.account_sid}/messages"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    assert post_signed(server, account, "messages", params, headers=headers, signed_url=public).status_code == 200
    assert len(conversations(client)) == 1


def test_a_message_no_capture_rule_takes_is_answered_and_ignored(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)
    incoming(server, account, to="+18005550999")
    assert conversations(client) == []


def test_twilio_retrying_a_message_records_it_once(server: LiveServer, account: Credentials, client: Any) -> None:
    configure(client)
    sid = incoming(server, account, "once")
    incoming(server, account, "once", sid=sid)
    [conversation] = conversations(client)
    assert len(communications(client, conversation.id)) == 1


def test_a_wildcard_rule_on_the_sender_captures_every_customer(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, SMS={"captureRules": [{"from": "*", "to": AGENT}]})
    incoming(server, account, sender=CUSTOMER)
    incoming(server, account, sender=OTHER_CUSTOMER)
    assert len(conversations(client)) == 2


def test_a_wildcard_rule_on_the_recipient_captures_one_customer_on_every_number(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, SMS={"captureRules": [{"from": CUSTOMER, "to": "*"}]})
    incoming(server, account, sender=CUSTOMER, to="+18005550123")
    incoming(server, account, sender=OTHER_CUSTOMER, to="+18005550123")
    [conversation] = conversations(client)
    assert {p.type for p in participants(client, conversation.id)} == {"CUSTOMER", "AGENT"}


def test_the_more_specific_rule_of_two_configurations_captures(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, SMS={"captureRules": [{"from": "*", "to": AGENT}]})
    specific = configure(client, SMS={"captureRules": [{"from": CUSTOMER, "to": AGENT}]})
    incoming(server, account)
    [conversation] = conversations(client)
    assert conversation.configuration_id == specific


def test_messages_of_one_address_pair_join_one_conversation(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)
    incoming(server, account, "one")
    incoming(server, account, "two")
    [conversation] = conversations(client)
    assert [c.content["text"] for c in communications(client, conversation.id)] == ["one", "two"]


def test_grouping_by_addresses_spans_sms_and_whatsapp_of_one_number(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, "GROUP_BY_PARTICIPANT_ADDRESSES", **rules("SMS", "WHATSAPP"))
    incoming(server, account, "by sms")
    incoming(server, account, "by whatsapp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{AGENT}")
    [conversation] = conversations(client)
    assert len(communications(client, conversation.id)) == 2
    [customer] = [p for p in participants(client, conversation.id) if p.type == "CUSTOMER"]
    assert {a["address"] for a in customer.addresses} == {CUSTOMER, f"whatsapp:{CUSTOMER}"}


def test_grouping_by_addresses_and_channel_splits_sms_from_whatsapp(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE", **rules("SMS", "WHATSAPP"))
    incoming(server, account, "by sms")
    incoming(server, account, "by whatsapp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{AGENT}")
    incoming(server, account, "by sms again")
    found = conversations(client)
    assert len(found) == 2
    assert sorted(len(communications(client, c.id)) for c in found) == [1, 2]


def test_grouping_keeps_different_customers_apart(server: LiveServer, account: Credentials, client: Any) -> None:
    configure(client, "GROUP_BY_PARTICIPANT_ADDRESSES", **rules("SMS"))
    incoming(server, account, sender=CUSTOMER)
    incoming(server, account, sender=OTHER_CUSTOMER)
    assert len(conversations(client)) == 2


def test_a_message_reopens_an_inactive_conversation_of_its_group(
    server: LiveServer, account: Credentials, client: Any, database_url: str
) -> None:
    configure(client)
    incoming(server, account, "first")
    [conversation] = conversations(client)
    set_conversation_status(database_url, account.account_sid, conversation.id, "INACTIVE")
    incoming(server, account, "back again")
    [reopened] = conversations(client)
    assert (reopened.id, reopened.status) == (conversation.id, "ACTIVE")


def test_a_message_after_its_conversation_closed_starts_a_new_one(
    server: LiveServer, account: Credentials, client: Any, database_url: str
) -> None:
    configure(client)
    incoming(server, account, "first")
    [closed] = conversations(client)
    set_conversation_status(database_url, account.account_sid, closed.id, "CLOSED")
    incoming(server, account, "new topic")
    found = {c.id: c.status for c in conversations(client)}
    assert len(found) == 2 and found[closed.id] == "CLOSED"
    assert sorted(found.values()) == ["ACTIVE", "CLOSED"]


def test_a_reply_joins_the_conversation_an_action_started(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configuration_id = configure(client)
    conversation = create_conversation(client, configuration_id)
    send(client, conversation.id)
    incoming(server, account, "thanks!")
    assert [c.id for c in conversations(client)] == [conversation.id]
    assert "thanks!" in [c.content["text"] for c in communications(client, conversation.id)]


def test_a_signed_status_callback_moves_the_action(server: LiveServer, account: Credentials, client: Any) -> None:
    conversation = create_conversation(client, configure(client))
    action = send(client, conversation.id, channel_settings=SLOW)
    sid = wait_for(lambda: fetch(client, conversation.id, action.id).related.get("messageSid"), "the message SID")
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": account.account_sid}
    response = post_signed(server, account, "status", params)
    assert (response.status_code, response.text) == (200, TWIML)
    assert fetch(client, conversation.id, action.id).status == "COMPLETED"


def test_a_failed_status_callback_fails_the_action_with_its_error_code(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    conversation = create_conversation(client, configure(client))
    action = send(client, conversation.id, channel_settings=SLOW)
    sid = wait_for(lambda: fetch(client, conversation.id, action.id).related.get("messageSid"), "the message SID")
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_signed(server, account, "status", params).status_code == 200
    failed = fetch(client, conversation.id, action.id)
    assert failed.status == "FAILED"
    assert "30003" in failed.failure_reason


def test_a_wrongly_signed_status_callback_is_refused_with_no_effect(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    conversation = create_conversation(client, configure(client))
    action = send(client, conversation.id, channel_settings=SLOW)
    sid = wait_for(lambda: fetch(client, conversation.id, action.id).related.get("messageSid"), "the message SID")
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30003"}
    assert post_signed(server, account, "status", params, token="forged").status_code == 403
    assert fetch(client, conversation.id, action.id).status == "PENDING"


@pytest.mark.parametrize("reported", ["failed", "delivered"])
def test_a_status_callback_cannot_move_another_accounts_action(
    server: LiveServer, account: Credentials, other_account: Credentials, other_client: Any, reported: str
) -> None:
    conversation = create_conversation(other_client, configure(other_client))
    action = send(other_client, conversation.id, channel_settings=SLOW)
    sid = wait_for(lambda: fetch(other_client, conversation.id, action.id).related.get("messageSid"), "the SID")
    params = {"MessageSid": sid, "MessageStatus": reported, "ErrorCode": "30003"}
    # Signed by its own account, for its own path, naming the other account's message.
    assert post_signed(server, account, "status", params).status_code == 200
    assert fetch(other_client, conversation.id, action.id).status == "PENDING"


def test_a_status_callback_for_an_unknown_message_is_answered_and_ignored(
    server: LiveServer, account: Credentials
) -> None:
    params = {"MessageSid": message_sid(), "MessageStatus": "delivered"}
    assert post_signed(server, account, "status", params).status_code == 200


def test_the_sandbox_simulates_an_incoming_message(http: Any, client: Any) -> None:
    configure(client, **rules("WHATSAPP"))
    answer = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "hi", "channel": "WHATSAPP"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["captured"] is True and result["messageSid"].startswith("SM")
    [communication] = communications(client, result["conversationId"])
    assert communication.author == {
        "address": f"whatsapp:{CUSTOMER}",
        "channel": "WHATSAPP",
        "participantId": communication.author["participantId"],
    }


def test_the_sandbox_answers_an_uncaptured_message_with_captured_false(http: Any, client: Any) -> None:
    answer = http.post("/sandbox/inbound", json={"from": CUSTOMER, "to": AGENT, "body": "anyone?"})
    assert answer.json()["captured"] is False
    assert conversations(client) == []


def test_a_sandbox_reply_to_a_sent_message_joins_its_conversation(http: Any, client: Any) -> None:
    configuration_id = create_configuration(client)  # no capture rules at all
    conversation = create_conversation(client, configuration_id)
    action = send(client, conversation.id)
    sid = wait_for(lambda: fetch(client, conversation.id, action.id).related.get("messageSid"), "the message SID")
    answer = http.post("/sandbox/inbound", json={"inReplyTo": sid, "body": "got it"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["conversationId"] == conversation.id
    texts = {c.content["text"]: c.author["address"] for c in communications(client, conversation.id)}
    assert texts["got it"] == CUSTOMER


@pytest.mark.parametrize("body", [{"to": AGENT}, {"from": CUSTOMER}, {"from": "not a number", "to": AGENT}])
def test_a_simulated_message_needs_valid_addresses(http: Any, body: dict[str, str]) -> None:
    assert http.post("/sandbox/inbound", json=body).status_code == 400


def test_grouping_by_profile_gives_a_customer_a_profile_across_channels(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, "GROUP_BY_PROFILE", **rules("SMS", "WHATSAPP"))
    incoming(server, account, "by sms")
    incoming(server, account, "by whatsapp", sender=f"whatsapp:{CUSTOMER}", to=f"whatsapp:{AGENT}")
    [conversation] = conversations(client)
    assert len(communications(client, conversation.id)) == 2
    [customer] = [p for p in participants(client, conversation.id) if p.type == "CUSTOMER"]
    assert customer.profile_id.startswith("mem_profile_")


def test_grouping_by_profile_follows_the_addresses_a_participant_profile_links(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configuration_id = configure(client, "GROUP_BY_PROFILE", **rules("SMS"))
    linked = {
        "type": "CUSTOMER",
        "profileId": "mem_profile_01jq7z8k9m0n1p2q3r4s5t6v7w",
        "addresses": [{"channel": "SMS", "address": CUSTOMER}, {"channel": "SMS", "address": OTHER_CUSTOMER}],
    }
    conversation = create_conversation(client, configuration_id, participants=[linked])
    incoming(server, account, "from my work phone", sender=OTHER_CUSTOMER)
    incoming(server, account, "from my own phone", sender=CUSTOMER)
    assert [c.id for c in conversations(client)] == [conversation.id]
    assert len(communications(client, conversation.id)) == 2


def test_grouping_by_profile_keeps_different_customers_apart(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, "GROUP_BY_PROFILE", **rules("SMS"))
    incoming(server, account, sender=CUSTOMER)
    incoming(server, account, sender=OTHER_CUSTOMER)
    incoming(server, account, sender=CUSTOMER)
    found = conversations(client)
    assert sorted(len(communications(client, c.id)) for c in found) == [1, 2]


def test_grouping_by_addresses_spans_sms_and_rcs_of_one_number(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client, "GROUP_BY_PARTICIPANT_ADDRESSES", **rules("SMS", "RCS"))
    incoming(server, account, "by sms")
    incoming(server, account, "by rcs", sender=f"rcs:{CUSTOMER}", to=f"rcs:{AGENT}")
    [conversation] = conversations(client)
    channels = {c.author["channel"] for c in communications(client, conversation.id)}
    assert channels == {"SMS", "RCS"}


def test_an_incoming_message_keeps_its_media_urls(server: LiveServer, account: Credentials, client: Any) -> None:
    configure(client)
    params = {
        "MessageSid": message_sid(),
        "From": CUSTOMER,
        "To": AGENT,
        "Body": "see photo",
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/media/ME1",
    }
    assert post_signed(server, account, "messages", params).status_code == 200
    [conversation] = conversations(client)
    [communication] = communications(client, conversation.id)
    assert communication.content == {
        "type": "TEXT",
        "text": "see photo",
        "mediaUrls": ["https://api.twilio.com/media/ME1"],
    }


def test_a_message_sent_around_orchestrion_is_captured_from_its_status_callbacks(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    both_ways = [{"from": AGENT, "to": "*"}, {"from": "*", "to": AGENT}]
    configure(client, SMS={"captureRules": both_ways})
    sid = message_sid()
    params = {"MessageSid": sid, "MessageStatus": "sent", "From": AGENT, "To": CUSTOMER}
    assert post_signed(server, account, "status", params).status_code == 200
    assert post_signed(server, account, "status", {**params, "MessageStatus": "delivered"}).status_code == 200
    incoming(server, account, "replying to you")

    [conversation] = conversations(client)
    outbound, reply = communications(client, conversation.id)
    assert (outbound.resource_id, outbound.author["address"]) == (sid, AGENT)
    assert [(r["address"], r["deliveryStatus"]) for r in outbound.recipients] == [(CUSTOMER, "DELIVERED")]
    assert reply.author["address"] == CUSTOMER


def test_a_message_sent_around_orchestrion_that_no_rule_takes_is_ignored(
    server: LiveServer, account: Credentials, client: Any
) -> None:
    configure(client)  # inbound only: from anyone to AGENT
    params = {"MessageSid": message_sid(), "MessageStatus": "sent", "From": AGENT, "To": CUSTOMER}
    assert post_signed(server, account, "status", params).status_code == 200
    assert conversations(client) == []
