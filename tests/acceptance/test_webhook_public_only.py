"""ORCHESTRION_WEBHOOK_PUBLIC_ONLY: https only, no loopback, private or reserved destination.

Refused at configuration time (400, code 20001) wherever callback URLs are
given, and again at delivery time (a URL stored before, or a name that now
resolves to a private address, never gets a request). This module runs its own
server with the setting on, on a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.acceptance.actions_support import wait_for
from tests.acceptance.conftest import MEMORY_STORE_ID, make_configuration
from tests.acceptance.webhook_receiver import Receiver
from tests.conftest import LiveServer, new_account, test_settings

REFUSED = [
    "http://hooks.example.com/status",  # not https
    "https://127.0.0.1:8443/status",
    "https://localhost/status",
    "https://10.20.30.40/status",
    "https://[::1]/status",
    "https://169.254.169.254/latest",
]
ALLOWED = "https://hooks.example.invalid/status"  # a public-looking name that does not resolve: checked per delivery


@pytest.fixture(scope="module")
def public_server(private_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(test_settings(private_database_url, webhook_public_only=True)).start()
    yield live
    live.stop()


@pytest.fixture
def http(private_database_url: str, public_server: LiveServer) -> Iterator[httpx.Client]:
    creds = new_account(private_database_url)
    with httpx.Client(base_url=public_server.url, auth=(creds.account_sid, creds.auth_token), timeout=10) as c:
        c.headers["x-test-account"] = creds.account_sid
        yield c


def _configuration(**fields: Any) -> dict[str, Any]:
    return {
        "displayName": f"cfg {id(fields)}",
        "description": "public only",
        "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
        "memoryStoreId": MEMORY_STORE_ID,
        **fields,
    }


def _refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 20001 and where in body["message"]


def _conversation(http: httpx.Client, database_url: str, **fields: Any) -> httpx.Response:
    configuration_id = make_configuration(database_url, http.headers["x-test-account"])
    return http.post("/v2/Conversations", json={"configurationId": configuration_id, **fields})


@pytest.mark.parametrize("url", REFUSED)
def test_configuration_create_refuses_a_non_public_callback(http: httpx.Client, url: str) -> None:
    response = http.post("/v2/ControlPlane/Configurations", json=_configuration(statusCallbacks=[{"url": url}]))
    _refused(response, "statusCallbacks[0].url")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_configuration_update_and_patch_refuse_a_non_public_callback(
    http: httpx.Client, private_database_url: str, method: str
) -> None:
    configuration_id = make_configuration(private_database_url, http.headers["x-test-account"])
    body = _configuration(statusCallbacks=[{"url": ALLOWED}, {"url": "https://192.168.1.1/"}], channelSettings={})
    response = http.request(method, f"/v2/ControlPlane/Configurations/{configuration_id}", json=body)
    _refused(response, "statusCallbacks[1].url")


def test_configuration_with_a_public_https_callback_is_accepted(http: httpx.Client) -> None:
    response = http.post("/v2/ControlPlane/Configurations", json=_configuration(statusCallbacks=[{"url": ALLOWED}]))
    assert response.status_code == 202, response.text


def test_inline_conversation_callbacks_are_checked(http: httpx.Client, private_database_url: str) -> None:
    inline = {"statusCallbacks": [{"url": "https://127.0.0.1/status"}]}
    _refused(_conversation(http, private_database_url, configuration=inline), "configuration.statusCallbacks[0].url")


def test_patched_conversation_callbacks_are_checked(http: httpx.Client, private_database_url: str) -> None:
    created = _conversation(http, private_database_url)
    assert created.status_code == 201, created.text
    patch = {"configuration": {"statusCallbacks": [{"url": "http://hooks.example.com/"}]}}
    _refused(http.patch(f"/v2/Conversations/{created.json()['id']}", json=patch), "configuration.statusCallbacks[0]")


def test_a_stored_private_callback_is_refused_at_delivery(http: httpx.Client, private_database_url: str) -> None:
    receiver = Receiver()
    try:
        # Stored straight into the database, as if configured before the setting was turned on.
        private_url = f"https://127.0.0.1:{receiver.port}/hooks"
        configuration_id = make_configuration(
            private_database_url, http.headers["x-test-account"], statusCallbacks=[{"url": private_url}]
        )
        conversation_id = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]

        def failed() -> dict[str, Any] | None:
            entries = http.get(f"/sandbox/conversations/{conversation_id}/webhooks").json()["webhooks"]
            return entries[0] if entries and entries[0]["status"] == "FAILED" else None

        entry = wait_for(failed, "the delivery to be refused")
        assert (
            entry["failureReason"]
            == "refused: the URL points at a non-public address (127.0.0.1 is a loopback address) (after 1 attempt)"
        )
        assert receiver.requests() == []
    finally:
        receiver.close()
