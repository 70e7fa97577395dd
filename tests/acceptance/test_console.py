"""The console over plain HTTP (no browser): sign-in, sessions, CSRF, account scoping, live regions, the off switch.

The browser tests (tests/browser) drive the same pages in Chromium; these
check what a browser does not show: cookie attributes, status codes, refusals.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from twilio.rest.conversations.v2.conversation import ConversationList

from orchestrion.runtime import Runtime
from orchestrion.services import accounts
from tests.acceptance.conftest import create_conversation, in_store
from tests.acceptance.console_client import ConsoleClient
from tests.conftest import Credentials, LiveServer, test_settings


@pytest.fixture
def console(server: LiveServer) -> Iterator[ConsoleClient]:
    client = ConsoleClient(server.url)
    yield client
    client.close()


@pytest.fixture
def signed_in(console: ConsoleClient, account: Credentials) -> ConsoleClient:
    assert console.sign_in(account.account_sid, account.auth_token).status_code == 303
    return console


def test_a_visitor_is_sent_to_sign_in_and_back(console: ConsoleClient, account: Credentials) -> None:
    first = console.get("/console/inbox?to=%2B1")
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=%2Fconsole%2Finbox%3Fto%3D%252B1"
    signed = console.sign_in(account.account_sid, account.auth_token, next_path="/console/inbox?to=%2B1")
    assert (signed.status_code, signed.headers["location"]) == (303, "/console/inbox?to=%2B1")
    assert console.get("/console/inbox?to=%2B1").status_code == 200


def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_console(
    console: ConsoleClient, account: Credentials
) -> None:
    answer = console.sign_in(account.account_sid, account.auth_token)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("orchestrion_console=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= attributes


def test_a_wrong_token_is_refused_with_the_form_again(console: ConsoleClient, account: Credentials) -> None:
    answer = console.sign_in(account.account_sid, "not-the-token")
    assert answer.status_code == 401
    assert "Those credentials were not accepted" in answer.text
    assert console.get("/console/conversations").status_code == 303


def test_an_api_key_signs_in_to_its_account(console: ConsoleClient, database_url: str, account: Credentials) -> None:
    key = _api_key(database_url, account.account_sid)
    assert console.sign_in(key.sid, key.secret).status_code == 303
    page = console.get("/console/conversations")
    assert page.status_code == 200 and account.account_sid in page.text


def test_rotating_the_auth_token_ends_the_session(
    signed_in: ConsoleClient, database_url: str, account: Credentials
) -> None:
    assert signed_in.get("/console/conversations").status_code == 200
    in_store(database_url, lambda tx: tx.accounts.set_auth_token(account.account_sid, "a-new-token"))
    assert signed_in.get("/console/conversations").status_code == 303


def test_a_tampered_cookie_is_no_session(signed_in: ConsoleClient) -> None:
    value = signed_in.http.cookies["orchestrion_console"]
    body, _, mac = value.partition(".")
    signed_in.http.cookies.clear()
    signed_in.http.cookies.set("orchestrion_console", body + "." + mac[::-1], path="/console")
    assert signed_in.get("/console/conversations").status_code == 303


def test_a_form_without_its_csrf_token_is_refused(signed_in: ConsoleClient) -> None:
    answer = signed_in.http.post("/console/inbox/clear", data={})
    assert answer.status_code == 403
    assert "did not come from the console" in answer.text


def test_a_form_posted_from_another_site_is_refused(signed_in: ConsoleClient) -> None:
    answer = signed_in.post(
        "/console/inbox/clear", {}, page="/console/inbox", headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403


def test_signing_out_ends_the_session(signed_in: ConsoleClient) -> None:
    answer = signed_in.post("/console/sign-out", {}, page="/console/conversations")
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")
    assert signed_in.get("/console/conversations").status_code == 303


def test_sign_in_only_leads_back_into_the_console(console: ConsoleClient, account: Credentials) -> None:
    answer = console.sign_in(account.account_sid, account.auth_token, next_path="//evil.example/console/")
    assert answer.headers["location"] == "/console/conversations"


def test_another_accounts_conversation_is_a_404_page(
    signed_in: ConsoleClient, other_client: Any, other_configuration_id: str
) -> None:
    theirs = create_conversation(other_client, other_configuration_id)
    page = signed_in.get(f"/console/conversations/{theirs.id}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert theirs.id in page.text and "Not found" in page.text
    assert signed_in.get(f"/console/conversations/{theirs.id}/timeline").status_code == 404


def test_bad_input_is_a_400_page_not_a_traceback(signed_in: ConsoleClient) -> None:
    page = signed_in.get("/console/conversations?status=BOGUS")
    assert page.status_code == 400 and "Unknown status" in page.text
    assert signed_in.get("/console/inbox?limit=abc").status_code == 400
    assert signed_in.get("/console/conversations?pageToken=forged").status_code == 400


def test_an_unknown_console_page_is_a_404_page(signed_in: ConsoleClient) -> None:
    page = signed_in.get("/console/nothing/here")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_a_live_region_answers_204_until_its_conversation_changes(
    signed_in: ConsoleClient, client: Any, configuration_id: str
) -> None:
    conversation = create_conversation(client, configuration_id)
    region = f"/console/conversations/{conversation.id}/timeline"
    drawn: list[str] = []

    def settled() -> bool:  # its status callback delivered, its last change older than the settle time
        drawn.append(_signature(signed_in.get(region).text))
        return signed_in.get(f"{region}?since={drawn[-1]}").status_code == 204

    _wait_until(settled)
    signature = drawn[-1]
    client.conversations.v2.conversations(conversation.id).patch(
        ConversationList.PatchConversationByIdRequest({"status": "INACTIVE"})
    )
    changed = signed_in.get(f"{region}?since={signature}")
    assert changed.status_code == 200 and _signature(changed.text) != signature
    assert "INACTIVE" in changed.text


def test_every_page_sends_a_content_security_policy(signed_in: ConsoleClient) -> None:
    page = signed_in.get("/console/conversations")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_the_console_can_be_turned_off(database_url: str) -> None:
    live = LiveServer(test_settings(database_url, console=False)).start(run_worker=False)
    try:
        answer = httpx.get(live.url + "/console/conversations", timeout=10)
        assert answer.status_code == 404
        assert answer.json()["code"] == 20404
    finally:
        live.stop()


# --- helpers


def _api_key(database_url: str, account_sid: str) -> accounts.NewCredentials:
    async def make() -> accounts.NewCredentials:
        runtime = Runtime.build(test_settings(database_url))
        try:
            return await accounts.create_api_key(runtime.ctx, account_sid)
        finally:
            await runtime.ctx.store.close()

    return asyncio.run(make())


def _signature(html: str) -> str:
    found = re.search(r'data-sig="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _wait_until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.2)
