"""Authentication: HTTP Basic with an Account SID + auth token or an API key SID + secret."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from orchestrion.runtime import Runtime
from orchestrion.services import accounts
from tests.conftest import Credentials, LiveServer, check_contract, sdk_client, test_settings


def _api_key(database_url: str, account_sid: str) -> Credentials:
    async def make() -> Credentials:
        runtime = Runtime.build(test_settings(database_url))
        try:
            key = await accounts.create_api_key(runtime.ctx, account_sid)
        finally:
            await runtime.ctx.store.close()
        return Credentials(key.sid, key.secret)

    return asyncio.run(make())


def _get(server: LiveServer, auth: tuple[str, str] | None, path: str = "/v2/Conversations") -> httpx.Response:
    response = httpx.get(server.url + path, auth=auth, timeout=10)
    check_contract("GET", server.url + path, response.status_code, response.text)
    return response


def test_account_sid_and_auth_token_authenticate(client: object) -> None:
    page = client.conversations.v2.conversations.page()  # type: ignore[attr-defined]
    assert page is not None


def test_api_key_and_secret_authenticate_for_their_account(
    server: LiveServer, database_url: str, account: Credentials
) -> None:
    key = _api_key(database_url, account.account_sid)
    client = sdk_client(server, Credentials(key.account_sid, key.auth_token))
    page = client.conversations.v2.conversations.page()  # type: ignore[attr-defined]
    assert page is not None


def test_sdk_with_wrong_auth_token_gets_20003(server: LiveServer, account: Credentials) -> None:
    client = sdk_client(server, Credentials(account.account_sid, "0" * 32))
    with pytest.raises(TwilioRestException) as raised:
        client.conversations.v2.conversations("conv_conversation_01jq7z8k9m0n1p2q3r4s5t6v7w").fetch()  # type: ignore[attr-defined]
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_missing_credentials_are_401_with_twilio_body(server: LiveServer) -> None:
    response = _get(server, None)
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_api_key_secret_is_401(server: LiveServer, database_url: str, account: Credentials) -> None:
    key = _api_key(database_url, account.account_sid)
    assert _get(server, (key.account_sid, "wrong")).status_code == 401


def test_unknown_account_sid_is_401(server: LiveServer) -> None:
    assert _get(server, ("AC" + "0" * 32, "0" * 32)).status_code == 401


def test_malformed_authorization_header_is_401(server: LiveServer) -> None:
    response = httpx.get(server.url + "/v2/Conversations", headers={"Authorization": "Basic !!!"}, timeout=10)
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_cached_credentials_stop_working_for_a_different_password(server: LiveServer, account: Credentials) -> None:
    assert _get(server, (account.account_sid, account.auth_token)).status_code == 200
    assert _get(server, (account.account_sid, account.auth_token[:-1] + "x")).status_code == 401
