"""Status callbacks without I/O: envelope, signing (checked with twilio's RequestValidator), URL rules, routing."""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from orchestrion.domain.models import Conversation, ConversationStatus
from orchestrion.domain.webhooks import Callback, address_refusal, effective_callbacks, ordering_key, url_refusal
from orchestrion.webhooks.envelope import envelope, query_params
from orchestrion.webhooks.sender import judge
from orchestrion.webhooks.signing import signature, with_body_hash, with_query

TOKEN = "0123456789abcdef0123456789abcdef"
CONVERSATION = Conversation(
    id="conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w",
    account_sid="AC" + "0" * 32,
    configuration_id="conv_configuration_01jq7z8k9m0n1p2q3r4s5t6v7w",
    configuration_version=1,
    configuration={"statusCallbacks": [{"url": "https://hooks.example.com/a", "method": "POST"}]},
    status=ConversationStatus.ACTIVE,
    name=None,
    metadata={},
    status_callbacks=None,
    created_ms=0,
    updated_ms=0,
)


def test_envelope_holds_event_type_timestamp_and_data_only() -> None:
    body = envelope("CONVERSATION_CREATED", 1_774_866_600_000, {"id": "x", "name": "é"})
    assert json.loads(body) == {
        "eventType": "CONVERSATION_CREATED",
        "timestamp": "2026-03-30T10:30:00Z",
        "data": {"id": "x", "name": "é"},
    }


def test_get_query_carries_the_envelope_as_event_type_timestamp_and_json_data() -> None:
    body = envelope("PARTICIPANT_ADDED", 1_774_866_600_000, {"id": "p", "addresses": []})
    assert query_params(body) == [
        ("EventType", "PARTICIPANT_ADDED"),
        ("Timestamp", "2026-03-30T10:30:00Z"),
        ("Data", '{"id":"p","addresses":[]}'),
    ]


def test_json_body_signature_is_accepted_by_twilios_validator() -> None:
    body = envelope("CONVERSATION_UPDATED", 0, {"id": "c", "text": "a&b=c ü"})
    url = with_body_hash("https://hooks.example.com/status?tenant=7", body.encode())
    assert RequestValidator(TOKEN).validate(url, body, signature(url, TOKEN))


def test_validator_rejects_a_changed_body() -> None:
    body = envelope("CONVERSATION_UPDATED", 0, {"id": "c"})
    url = with_body_hash("https://hooks.example.com/status", body.encode())
    assert not RequestValidator(TOKEN).validate(url, body.replace('"c"', '"d"'), signature(url, TOKEN))


def test_validator_rejects_another_token() -> None:
    body = envelope("CONVERSATION_UPDATED", 0, {"id": "c"})
    url = with_body_hash("https://hooks.example.com/status", body.encode())
    assert not RequestValidator("f" * 32).validate(url, body, signature(url, TOKEN))


def test_body_hash_is_the_hex_sha256_of_the_exact_body() -> None:
    url = with_body_hash("https://h.example/p", b"{}")
    assert parse_qs(urlsplit(url).query)["bodySHA256"] == [
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    ]


def test_get_url_signature_is_accepted_by_twilios_validator() -> None:
    url = with_query("https://hooks.example.com/status?x=1", query_params(envelope("ACTION_UPDATED", 0, {"a": 1})))
    assert RequestValidator(TOKEN).validate(url, {}, signature(url, TOKEN))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h.example/p", "https://h.example/p?a=1"),
        ("https://h.example/p?x=y", "https://h.example/p?x=y&a=1"),
        ("https://h.example/p?", "https://h.example/p?a=1"),
        ("https://h.example/p#frag", "https://h.example/p?a=1"),
    ],
)
def test_query_parameters_are_appended_to_any_url(url: str, expected: str) -> None:
    assert with_query(url, [("a", "1")]) == expected


def test_query_values_are_escaped_completely() -> None:
    assert with_query("https://h.example/", [("Data", '{"a": "b&c"}')]) == (
        "https://h.example/?Data=%7B%22a%22%3A%20%22b%26c%22%7D"
    )


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hooks", "http://localhost/h", "https://10.0.0.1/h", "http://example.com"]
)
def test_any_http_url_is_allowed_by_default(url: str) -> None:
    assert url_refusal(url, public_only=False) is None


@pytest.mark.parametrize("url", ["ftp://example.com/h", "https://", "/relative", "https://h:99999/"])
def test_non_http_urls_are_refused_even_by_default(url: str) -> None:
    assert url_refusal(url, public_only=False) is not None


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://hooks.example.com/h", "https"),
        ("https://127.0.0.1/h", "loopback"),
        ("https://[::1]/h", "loopback"),
        ("https://localhost:8443/h", "local host"),
        ("https://api.localhost/h", "local host"),
        ("https://10.1.2.3/h", "private"),
        ("https://192.168.0.10/h", "private"),
        ("https://172.16.5.4/h", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[fd00::1]/h", "private"),
        ("https://[::ffff:10.0.0.1]/h", "private"),
        ("https://0.0.0.0/h", "private"),
        ("https://100.64.0.1/h", "not a public"),
    ],
)
def test_public_only_refuses_plain_http_and_non_public_addresses(url: str, fragment: str) -> None:
    reason = url_refusal(url, public_only=True)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize("url", ["https://hooks.example.com/h", "https://93.184.215.14/h", "https://[2606:4700::1]/h"])
def test_public_only_accepts_https_to_public_names_and_addresses(url: str) -> None:
    assert url_refusal(url, public_only=True) is None


@pytest.mark.parametrize(("address", "public"), [("8.8.8.8", True), ("127.0.0.2", False), ("fe80::1%eth0", False)])
def test_addresses_are_judged_public_or_not(address: str, public: bool) -> None:
    assert (address_refusal(address, public_only=True) is None) is public


ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "https://169.254.0.1/h",
    "http://[fe80::1]/h",
    "http://[fe80::a9fe:a9fe%25eth0]/h",
    "http://[febf:ffff::1]/h",
    "http://[fd00:ec2::254]/latest",
    "http://[::ffff:169.254.169.254]/latest",
    "http://[::ffff:a9fe:a9fe]/latest",
    "http://[::169.254.169.254]/latest",
    "http://[64:ff9b::a9fe:a9fe]/latest",
    "http://[2002:a9fe:a9fe::1]/latest",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.google.internal./computeMetadata/v1/",
    "http://metadata/computeMetadata/v1/",
    "http://100.100.100.200/latest/meta-data",
    "http://192.0.0.192/opc/v2/instance/",
    "http://168.63.129.16/machine",
]


@pytest.mark.parametrize("public_only", [False, True])
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_link_local_and_cloud_metadata_destinations_are_refused_in_every_mode(url: str, public_only: bool) -> None:
    assert url_refusal(url, public_only=public_only) is not None


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1%eth0", "fd00:ec2::254", "::ffff:169.254.1.1"])
def test_link_local_and_metadata_addresses_are_refused_in_every_mode(address: str) -> None:
    reason = address_refusal(address, public_only=False)
    assert reason is not None and "link-local or cloud metadata" in reason


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.20", "8.8.8.8", "fd00::1"])
def test_local_and_private_addresses_are_allowed_by_default(address: str) -> None:
    assert address_refusal(address, public_only=False) is None


def test_callbacks_come_from_the_configuration_when_the_conversation_has_none() -> None:
    assert effective_callbacks(CONVERSATION) == [Callback("https://hooks.example.com/a", "POST")]


def test_an_empty_override_sends_nothing() -> None:
    assert effective_callbacks(dataclasses.replace(CONVERSATION, status_callbacks=[])) == []


def test_a_callback_listed_twice_is_called_once_and_method_defaults_to_post() -> None:
    override = [{"url": "https://a.example/"}, {"url": "https://a.example/", "method": "POST"}]
    assert effective_callbacks(dataclasses.replace(CONVERSATION, status_callbacks=override)) == [
        Callback("https://a.example/", "POST")
    ]


def test_ordering_key_is_one_stream_per_conversation_and_url() -> None:
    a, b = Callback("https://a.example/", "POST"), Callback("https://b.example/", "POST")
    key = ordering_key(CONVERSATION.id, a)
    assert key == ordering_key(CONVERSATION.id, a)
    assert key != ordering_key(CONVERSATION.id, b)
    assert key != ordering_key("conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7x", a)
    assert len(key) <= 128


@pytest.mark.parametrize(
    ("status", "retryable", "delivered"),
    [
        (200, False, True),
        (204, False, True),
        (301, False, False),
        (400, False, False),
        (429, False, False),
        (500, True, False),
        (503, True, False),
    ],
)
def test_http_answers_are_judged(status: int, retryable: bool, delivered: bool) -> None:
    error, again = judge(status)
    assert (again, error is None) == (retryable, delivered)
