"""Link-local and cloud-metadata callback destinations: refused in every mode (here the default one).

With ORCHESTRION_WEBHOOK_PUBLIC_ONLY off, loopback and private addresses are
fine (a developer's receiver), but nothing may point a callback, or learn
from the delivery log, at 169.254.169.254 and its kind.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import MEMORY_STORE_ID, make_configuration

METADATA = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest",
    "http://metadata.google.internal/",
]


def _configuration(callbacks: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "displayName": "destinations",
        "description": "metadata",
        "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
        "memoryStoreId": MEMORY_STORE_ID,
        "statusCallbacks": callbacks,
    }


def _refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 20001 and where in response.json()["message"]


@pytest.mark.parametrize("url", METADATA)
def test_a_configuration_callback_to_a_metadata_address_is_refused(http: httpx.Client, url: str) -> None:
    _refused(http.post("/v2/ControlPlane/Configurations", json=_configuration([{"url": url}])), "statusCallbacks[0]")


@pytest.mark.parametrize("url", METADATA)
def test_a_conversation_callback_to_a_metadata_address_is_refused(
    http: httpx.Client, database_url: str, account: Any, url: str
) -> None:
    configuration_id = make_configuration(database_url, account.account_sid)
    inline = {"configurationId": configuration_id, "configuration": {"statusCallbacks": [{"url": url}]}}
    _refused(http.post("/v2/Conversations", json=inline), "configuration.statusCallbacks[0]")
    created = http.post("/v2/Conversations", json={"configurationId": configuration_id}).json()["id"]
    patch = {"configuration": {"statusCallbacks": [{"url": url}]}}
    _refused(http.patch(f"/v2/Conversations/{created}", json=patch), "configuration.statusCallbacks[0]")


def test_a_loopback_callback_is_still_accepted_by_default(http: httpx.Client) -> None:
    answer = http.post("/v2/ControlPlane/Configurations", json=_configuration([{"url": "http://127.0.0.1:9/h"}]))
    assert answer.status_code == 202, answer.text
