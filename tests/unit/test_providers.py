"""The providers' pure rules: channels, masking, the signed-webhook scheme, gateway ids, Retry-After."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from orchestrion.channels import http
from orchestrion.domain.channels import Channel
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.providers import (
    REPLAY_WINDOW_S,
    ProviderConfig,
    check_channels_free,
    gateway_message_sid,
    mask,
    parse_channels,
    sign,
    verify,
)

SECRET = "s" * 32
NOW = 1_900_000_000


def test_channels_are_parsed_case_insensitively() -> None:
    assert parse_channels("sms, WhatsApp") == {Channel.SMS, Channel.WHATSAPP}


@pytest.mark.parametrize("raw", ["", "fax", "sms,voice"])
def test_a_channel_no_message_can_be_sent_on_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        parse_channels(raw)


def test_a_channel_is_served_by_one_provider_only() -> None:
    twilio = ProviderConfig("AC1", "twilio", frozenset({Channel.SMS}), {})
    check_channels_free([twilio], "twilio", frozenset({Channel.SMS}))  # replacing itself is fine
    with pytest.raises(InvalidInput, match="twilio already serves sms"):
        check_channels_free([twilio], "webhook", frozenset({Channel.SMS, Channel.RCS}))


def test_a_secret_shows_only_its_last_four_characters_and_a_short_one_nothing() -> None:
    assert mask("0123456789abcdef1234") == "****1234"
    assert mask("short") == "****"


def test_a_config_never_shows_its_secrets_in_repr() -> None:
    config = ProviderConfig("AC1", "webhook", frozenset({Channel.SMS}), {"url": "u"}, {"signingSecret": SECRET})
    assert SECRET not in repr(config)


def test_a_signature_over_timestamp_and_body_verifies() -> None:
    body = b'{"messageId":"gw-1"}'
    assert verify(SECRET, str(NOW), sign(SECRET, NOW, body), body, NOW + 10) == NOW


@pytest.mark.parametrize(
    ("stamp", "signature_of", "body", "now", "problem"),
    [
        (NOW, b"{}", b"{ }", NOW, "does not match"),  # body changed
        (NOW, b"{}", b"{}", NOW + REPLAY_WINDOW_S + 1, "away from this server's clock"),  # stale
        (NOW, b"{}", b"{}", NOW - REPLAY_WINDOW_S - 1, "away from this server's clock"),  # from the future
    ],
)
def test_a_changed_or_stale_signature_is_refused(
    stamp: int, signature_of: bytes, body: bytes, now: int, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        verify(SECRET, str(stamp), sign(SECRET, stamp, signature_of), body, now)


def test_a_signature_with_another_timestamp_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not match"):
        verify(SECRET, str(NOW + 1), sign(SECRET, NOW, b"{}"), b"{}", NOW)


@pytest.mark.parametrize(("stamp", "signature"), [(None, "v1=x"), ("123", None), ("12a", "v1=x"), ("١٢٣", "v1=x")])
def test_missing_or_malformed_headers_are_refused(stamp: str | None, signature: str | None) -> None:
    with pytest.raises(InvalidInput, match="Missing or malformed"):
        verify(SECRET, stamp, signature, b"{}", NOW)


def test_a_gateway_id_becomes_one_message_sid_per_account() -> None:
    sid = gateway_message_sid("AC1", "gw-1")
    assert sid == gateway_message_sid("AC1", "gw-1") != gateway_message_sid("AC2", "gw-1")
    assert sid.startswith("SM") and len(sid) == 34


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert http.retry_after_s("7") == 7.0
    assert http.retry_after_s(email.utils.formatdate(NOW + 30, usegmt=True), now_s=NOW) == 30.0
    assert http.retry_after_s("soon") is None and http.retry_after_s(None) is None


@pytest.mark.parametrize(
    ("status", "transient"), [(400, False), (401, False), (404, False), (429, True), (500, True), (503, True)]
)
def test_429_and_5xx_are_transient_other_4xx_permanent(status: int, transient: bool) -> None:
    answer = httpx.Response(status, json={"code": 21211, "message": "Invalid 'To'"}, headers={"Retry-After": "3"})
    error = http.refused("Twilio", answer)
    assert (error.transient, error.code, error.message) == (transient, 21211, "21211: Invalid 'To'")
    assert error.retry_after_s == (3.0 if transient else None)


def test_an_answer_without_twilios_error_body_still_reads_well() -> None:
    error = http.refused("The gateway", httpx.Response(502, text="<html>bad gateway</html>"))
    assert (error.transient, error.code, error.message) == (True, None, "The gateway answered HTTP 502")


def test_the_twilio_provider_refuses_a_channel_twilio_cannot_send_on() -> None:
    from orchestrion.channels import twilio
    from orchestrion.channels.base import ProviderSetup

    config = ProviderConfig("AC1", "twilio", frozenset({Channel.SMS, Channel.CHAT}), {"accountSid": "AC" + "1" * 32})
    setup = ProviderSetup(config, "https://o.example.com", ledger=None, report=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not chat"):
        twilio.make(setup)
