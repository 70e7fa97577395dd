"""The contract checker must catch real violations and accept valid bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_reference
from tests.contract import ContractChecker

CONVERSATION_ID = "conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w"
ACTION_ID = "conv_action_01jq7z8k9m0n1p2q3r4s5t6v7w"
CONFIGURATION_ID = "conv_configuration_01jq7z8k9m0n1p2q3r4s5t6v7x"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
ACTION_PATH = f"/v2/Conversations/{CONVERSATION_ID}/Actions/{ACTION_ID}"
CONVERSATION_PATH = f"/v2/Conversations/{CONVERSATION_ID}"


@pytest.fixture(scope="module")
def checker() -> ContractChecker:
    require_reference()
    loaded = ContractChecker.load()
    assert loaded is not None
    return loaded


@pytest.fixture
def fresh_checker() -> ContractChecker:
    require_reference()
    loaded = ContractChecker.load()
    assert loaded is not None
    return loaded


def action_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": ACTION_ID,
        "type": "action-send-message",
        "status": "PENDING",
        "conversationId": CONVERSATION_ID,
        "related": {"messageSid": "SM0123456789abcdef0123456789abcdef"},
        "createdAt": "2026-03-30T10:30:00Z",
        "updatedAt": "2026-03-30T10:30:00Z",
        "failureReason": None,
    }
    body.update(overrides)
    return body


def conversation_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": CONVERSATION_ID,
        "accountId": ACCOUNT_SID,
        "configurationId": CONFIGURATION_ID,
        "status": "ACTIVE",
        "name": None,
        "createdAt": "2026-03-30T10:30:00Z",
        "updatedAt": "2026-03-30T10:31:00Z",
    }
    body.update(overrides)
    return body


def twilio_error(status: int, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": 20404 if status == 404 else 20001,
        "message": "The requested resource was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": status,
    }
    body.update(overrides)
    return body


def violation(checker: ContractChecker, *args: Any) -> str:
    with pytest.raises(AssertionError) as excinfo:
        checker.check(*args)
    return str(excinfo.value)


def test_valid_action_body_passes(checker: ContractChecker) -> None:
    checker.check("GET", ACTION_PATH, 200, action_body())


def test_action_with_unknown_status_fails_naming_status(
    checker: ContractChecker,
) -> None:
    message = violation(checker, "GET", ACTION_PATH, 200, action_body(status="DONE"))
    assert "at /status:" in message
    assert "'enum'" in message
    assert "'DONE'" in message


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-03-30T10:30:00.123Z",
        "2026-03-30T10:30:00+00:00",
        "2026-03-30 10:30:00Z",
        "2026-02-30T10:30:00Z",
    ],
)
def test_timestamp_not_exactly_utc_seconds_fails(checker: ContractChecker, timestamp: str) -> None:
    message = violation(checker, "GET", ACTION_PATH, 200, action_body(createdAt=timestamp))
    assert "at /createdAt:" in message
    assert "'format'" in message
    assert timestamp in message


def test_null_allowed_where_nullable(checker: ContractChecker) -> None:
    checker.check("GET", ACTION_PATH, 200, action_body(failureReason=None))


def test_null_rejected_where_not_nullable(checker: ContractChecker) -> None:
    message = violation(checker, "GET", ACTION_PATH, 200, action_body(type=None))
    assert "at /type:" in message
    assert "'type'" in message


def test_missing_required_field_fails(checker: ContractChecker) -> None:
    body = action_body()
    del body["createdAt"]
    message = violation(checker, "GET", ACTION_PATH, 200, body)
    assert "'required'" in message
    assert "'createdAt' is a required property" in message


def test_error_body_missing_code_fails_for_declared_404(
    checker: ContractChecker,
) -> None:
    body = twilio_error(404)
    del body["code"]
    message = violation(checker, "GET", ACTION_PATH, 404, body)
    assert "'code' is a required property" in message


def test_complete_error_body_passes_for_declared_404(
    checker: ContractChecker,
) -> None:
    checker.check("GET", ACTION_PATH, 404, twilio_error(404))


def test_undeclared_error_status_requires_twilio_error_shape(
    checker: ContractChecker,
) -> None:
    checker.check("GET", ACTION_PATH, 401, twilio_error(401, code=20003))
    body = twilio_error(401)
    del body["more_info"]
    message = violation(checker, "GET", ACTION_PATH, 401, body)
    assert "'more_info' is a required property" in message


def test_error_status_field_must_match_http_status(checker: ContractChecker) -> None:
    message = violation(checker, "GET", ACTION_PATH, 404, twilio_error(400))
    assert "at /status:" in message


def test_undeclared_success_status_fails(checker: ContractChecker) -> None:
    message = violation(checker, "GET", ACTION_PATH, 201, action_body())
    assert "not declared" in message


def test_uri_format_must_be_absolute(checker: ContractChecker) -> None:
    path = f"/v2/ControlPlane/Configurations/{CONFIGURATION_ID}"
    checker.check(
        "DELETE",
        path,
        202,
        {"statusUrl": "https://conversations.example.com/v2/ControlPlane/Operations/op1"},
    )
    message = violation(checker, "DELETE", path, 202, {"statusUrl": "/v2/ControlPlane/Operations/op1"})
    assert "at /statusUrl:" in message
    assert "'format'" in message


def test_query_string_is_ignored_when_matching(checker: ContractChecker) -> None:
    checker.check("GET", f"{ACTION_PATH}?PageSize=5", 200, action_body())
    message = violation(checker, "GET", f"{ACTION_PATH}?PageSize=5", 200, action_body(status="DONE"))
    assert "at /status:" in message


def test_unknown_path_is_ignored(checker: ContractChecker) -> None:
    assert not checker.knows("GET", "/healthz")
    assert not checker.knows("POST", "/sandbox/channels/sms/inbound")
    checker.check("GET", "/healthz", 200, "not even an object")
    checker.check("POST", "/sandbox/channels/sms/inbound", 500, None)


def test_known_operations_resolve_to_their_operation_id(
    checker: ContractChecker,
) -> None:
    assert checker.knows("get", "/v2/ControlPlane/Configurations")
    assert checker.operation_id("GET", "/v2/ControlPlane/Configurations") == ("ListConfiguration")
    assert checker.operation_id("GET", CONVERSATION_PATH) == "FetchConversation"
    assert checker.operation_id("GET", ACTION_PATH) == "FetchConversationAction"


def test_literal_segment_preferred_over_template() -> None:
    def operation(operation_id: str, required: str) -> dict[str, Any]:
        schema = {"type": "object", "required": [required]}
        return {
            "get": {
                "operationId": operation_id,
                "responses": {"200": {"content": {"application/json": {"schema": schema}}}},
            }
        }

    # The template comes first so that declaration order cannot be what wins.
    spec = {
        "openapi": "3.0.1",
        "paths": {
            "/v2/Things/{id}": operation("FetchThing", "id"),
            "/v2/Things/Special": operation("FetchSpecial", "special"),
        },
    }
    synthetic = ContractChecker(spec)
    assert synthetic.operation_id("GET", "/v2/Things/Special") == "FetchSpecial"
    assert synthetic.operation_id("GET", "/v2/Things/thing_01jq7z8k") == "FetchThing"
    synthetic.check("GET", "/v2/Things/Special", 200, {"special": True})
    message = violation(synthetic, "GET", "/v2/Things/Special", 200, {"id": "x"})
    assert "'special' is a required property" in message


def test_list_body_passes_when_every_item_is_valid(checker: ContractChecker) -> None:
    body = {
        "conversations": [conversation_body(), conversation_body(status="CLOSED")],
        "meta": {"key": "conversations", "pageSize": 2},
    }
    checker.check("GET", "/v2/Conversations?PageSize=2", 200, body)


def test_list_body_validates_each_item(checker: ContractChecker) -> None:
    body = {
        "conversations": [conversation_body(), conversation_body(status="ARCHIVED")],
        "meta": {"key": "conversations", "pageSize": 2},
    }
    message = violation(checker, "GET", "/v2/Conversations", 200, body)
    assert "at /conversations/1/status:" in message
    assert "'ARCHIVED'" in message


def test_list_body_missing_meta_fails(checker: ContractChecker) -> None:
    message = violation(checker, "GET", "/v2/Conversations", 200, {"conversations": []})
    assert "'meta' is a required property" in message


def test_coverage_records_checked_operation_and_status(
    fresh_checker: ContractChecker,
) -> None:
    fresh_checker.check("GET", ACTION_PATH, 200, action_body())
    with pytest.raises(AssertionError):
        fresh_checker.check("GET", ACTION_PATH, 404, {})
    fresh_checker.check("GET", "/healthz", 200, {})
    coverage = fresh_checker.coverage()
    assert coverage["FetchConversationAction"] == {200, 404}
    assert coverage["ListConversationByAccount"] == set()
    assert set(coverage) == set(fresh_checker.declared())
    assert len(coverage) == 22


def test_load_returns_none_when_spec_absent(tmp_path: Path) -> None:
    assert ContractChecker.load(tmp_path / "missing.json") is None
