"""Configuration rules without I/O: request validation, create/replace/patch, idempotency, problems."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from orchestrion.api import idempotency
from orchestrion.api.schemas.configurations import (
    CreateConfigurationIn,
    PatchConfigurationIn,
    ReplaceConfigurationIn,
)
from orchestrion.api.views.operations import problem
from orchestrion.domain.errors import InvalidInput
from orchestrion.domain.models import Configuration
from orchestrion.services.configurations import created, patched, replaced
from orchestrion.wire.configurations import configuration as configuration_wire

MEMORY_STORE = "mem_store_0" + "a" * 25


def _create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "displayName": "Support",
        "description": "d",
        "conversationGroupingType": "GROUP_BY_PROFILE",
        "memoryStoreId": MEMORY_STORE,
    }
    body.update(overrides)
    return body


def _configuration(**settings: Any) -> Configuration:
    return created(
        "AC" + "0" * 32,
        {**_create_body(), "configurationId": "conv_configuration_0" + "0" * 25, **settings},
        now_ms=1_000,
    )


# --- request validation


def test_payload_drops_nulls_and_defaults_the_callback_method() -> None:
    body = CreateConfigurationIn.model_validate(
        _create_body(
            statusCallbacks=[{"url": "https://example.com/h", "method": None}],
            channelSettings={"SMS": {"statusTimeouts": {"inactive": 5, "closed": None}, "captureRules": None}},
            conversationsV1Bridge=None,
        )
    )
    assert body.payload() == {
        **_create_body(),
        "statusCallbacks": [{"url": "https://example.com/h", "method": "POST"}],
        "channelSettings": {"SMS": {"statusTimeouts": {"inactive": 5}}},
    }


def test_capture_rule_keeps_its_from_field_on_the_wire() -> None:
    body = CreateConfigurationIn.model_validate(
        _create_body(channelSettings={"CHAT": {"captureRules": [{"from": "*", "to": "agent"}]}})
    )
    assert body.payload()["channelSettings"] == {"CHAT": {"captureRules": [{"from": "*", "to": "agent"}]}}


def test_null_required_field_reads_as_missing() -> None:
    with pytest.raises(ValidationError) as raised:
        CreateConfigurationIn.model_validate(_create_body(displayName=None))
    assert raised.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize(
    "name, valid", [("Support line-2_x", True), ("x" * 32, True), ("x" * 33, False), ("a/b", False), ("é", False)]
)
def test_display_name_follows_the_spec_pattern(name: str, valid: bool) -> None:
    try:
        CreateConfigurationIn.model_validate(_create_body(displayName=name))
    except ValidationError:
        assert not valid
    else:
        assert valid


@pytest.mark.parametrize("url", ["https://example.com/x", "http://127.0.0.1:8080/hooks?a=1"])
def test_status_callback_accepts_absolute_http_urls(url: str) -> None:
    CreateConfigurationIn.model_validate(_create_body(statusCallbacks=[{"url": url}]))


@pytest.mark.parametrize("url", ["example.com", "mailto:a@b.c", "https://", "https://exa mple.com", "http://x:99999"])
def test_status_callback_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        CreateConfigurationIn.model_validate(_create_body(statusCallbacks=[{"url": url}]))


def test_timeouts_are_strict_integers_of_at_least_one_minute() -> None:
    for bad in (0, -1, True, 1.5, "3", 525_601):
        with pytest.raises(ValidationError):
            CreateConfigurationIn.model_validate(
                _create_body(channelSettings={"SMS": {"statusTimeouts": {"inactive": bad}}})
            )


def test_replace_requires_channel_settings_but_not_a_display_name() -> None:
    body = _create_body()
    del body["displayName"]
    with pytest.raises(ValidationError):
        ReplaceConfigurationIn.model_validate(body)
    assert ReplaceConfigurationIn.model_validate({**body, "channelSettings": {}}).display_name is None


def test_patch_of_only_nulls_sets_no_field() -> None:
    assert PatchConfigurationIn.model_validate({"displayName": None, "channelSettings": None}).model_fields_set == set()


# --- create, replace, patch


def test_created_configuration_fills_defaults_at_version_1() -> None:
    c = _configuration()
    assert (c.version, c.created_ms, c.updated_ms) == (1, 1_000, 1_000)
    assert c.settings == {
        "channelSettings": {},
        "statusCallbacks": [],
        "intelligenceConfigurationIds": [],
        "memoryExtractionEnabled": False,
    }


def test_replace_resets_what_it_leaves_out_and_keeps_the_name() -> None:
    current = _configuration(memoryExtractionEnabled=True, conversationsV1Bridge={"serviceId": "IS" + "0" * 32})
    after = replaced(
        current,
        {
            "description": "new",
            "conversationGroupingType": "GROUP_BY_PROFILE",
            "memoryStoreId": MEMORY_STORE,
            "channelSettings": {},
        },
        now_ms=2_000,
    )
    assert (after.display_name, after.description, after.version, after.updated_ms) == ("Support", "new", 2, 2_000)
    assert after.settings["memoryExtractionEnabled"] is False
    assert "conversationsV1Bridge" not in after.settings
    assert after.created_ms == current.created_ms


def test_patch_changes_only_given_fields_and_merges_channels() -> None:
    current = _configuration(
        channelSettings={"SMS": {"statusTimeouts": {"inactive": 1}}, "CHAT": {"statusTimeouts": {"closed": 2}}},
        statusCallbacks=[{"url": "https://example.com", "method": "POST"}],
    )
    after = patched(current, {"channelSettings": {"SMS": {"captureRules": []}}, "memoryExtractionEnabled": True}, 3_000)
    assert after.settings["channelSettings"] == {"SMS": {"captureRules": []}, "CHAT": {"statusTimeouts": {"closed": 2}}}
    assert after.settings["statusCallbacks"] == current.settings["statusCallbacks"]
    assert after.settings["memoryExtractionEnabled"] is True
    assert (after.display_name, after.description, after.version) == (current.display_name, current.description, 2)


def test_patch_does_not_change_the_configuration_it_was_given() -> None:
    current = _configuration(channelSettings={"SMS": {}})
    patched(current, {"channelSettings": {"CHAT": {}}}, 3_000)
    assert current.settings["channelSettings"] == {"SMS": {}}


def test_wire_shows_the_bridge_only_when_set() -> None:
    assert "conversationsV1Bridge" not in configuration_wire(_configuration())
    bridge = {"serviceId": "IS" + "a" * 32}
    assert configuration_wire(_configuration(conversationsV1Bridge=bridge))["conversationsV1Bridge"] == bridge


# --- idempotency


def _request(key: str | None) -> Request:
    headers = [] if key is None else [(b"idempotency-key", key.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


def test_idempotency_key_must_be_a_uuid() -> None:
    assert idempotency.key_from(_request(None)) is None
    assert idempotency.key_from(_request("")) is None
    assert (
        idempotency.key_from(_request("01890A5D-AA0F-7C80-B8E6-0242AC140004")) == "01890a5d-aa0f-7c80-b8e6-0242ac140004"
    )
    with pytest.raises(InvalidInput):
        idempotency.key_from(_request("01890a5d"))


def test_fingerprint_ignores_key_order_and_nulls() -> None:
    a = idempotency.fingerprint("POST", "/p", {"a": 1, "b": {"c": None, "d": [1]}})
    b = idempotency.fingerprint("post", "/p", {"b": {"d": [1]}, "a": 1, "e": None})
    assert a == b


def test_fingerprint_tells_method_path_and_body_apart() -> None:
    base = idempotency.fingerprint("POST", "/p", {"a": 1})
    assert base != idempotency.fingerprint("PATCH", "/p", {"a": 1})
    assert base != idempotency.fingerprint("POST", "/q", {"a": 1})
    assert base != idempotency.fingerprint("POST", "/p", {"a": 2})
    assert idempotency.fingerprint("DELETE", "/p", None) != idempotency.fingerprint("DELETE", "/p", {})


# --- problems


@pytest.mark.parametrize(
    "kind, status, code, title",
    [
        ("Conflict", 409, 20409, "Conflict"),
        ("NotFound", 404, 20404, "Not Found"),
        ("InvalidState", 409, 20409, "Conflict"),
        ("OrchestrionError", 500, 20500, "Internal Server Error"),
        ("NoSuchError", 500, 20500, "Internal Server Error"),
        ("Exception", 500, 20500, "Internal Server Error"),
    ],
)
def test_stored_failure_renders_as_an_rfc9457_problem(kind: str, status: int, code: int, title: str) -> None:
    rendered = problem({"kind": kind, "detail": "why"}, "http://h/v2/ControlPlane/Operations/x")
    assert rendered == {
        "type": f"https://www.twilio.com/docs/errors/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": "why",
        "instance": "http://h/v2/ControlPlane/Operations/x",
    }


def test_nul_characters_are_refused_anywhere_in_the_body() -> None:
    with pytest.raises(ValidationError) as raised:
        CreateConfigurationIn.model_validate(_create_body(intelligenceConfigurationIds=["ok", "n\x00"]))
    assert "intelligenceConfigurationIds[1]" in str(raised.value)
