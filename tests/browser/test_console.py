"""The console in Chromium: what a developer does with it, end to end against a live server.

Data is arranged through the official twilio SDK (and the API) before the
browser opens; the browser then only reads and clicks.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.webhook_receiver import Receiver
from tests.browser.conftest import Console
from tests.browser.sdk import CUSTOMER, send, wait_for_message_sid
from tests.conftest import Credentials

pytestmark = pytest.mark.browser


@pytest.fixture
def conversation_id(client: Any) -> str:
    return str(create_conversation(client, create_configuration(client)).id)


def test_sign_in_and_sign_out(account: Credentials, console: Console) -> None:
    console.sign_in(account)
    expect(console.page.locator("#account-sid")).to_have_text(account.account_sid)
    console.page.get_by_role("button", name="Sign out").click()
    console.page.wait_for_url("**/console/sign-in")
    console.goto("/console/inbox")
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_token_is_refused(account: Credentials, console: Console) -> None:
    console.allow_error("status of 401")
    console.goto("/console/conversations")
    console.page.get_by_label("Account SID or API key SID").fill(account.account_sid)
    console.page.get_by_label("Auth token or API key secret").fill("not-the-token")
    console.page.get_by_role("button", name="Sign in").click()
    expect(console.page.get_by_role("alert")).to_contain_text("Those credentials were not accepted")
    console.goto("/console/conversations")
    expect(console.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_sign_in_form_works_from_the_keyboard(account: Credentials, console: Console) -> None:
    console.goto("/console/conversations")
    console.page.get_by_label("Account SID or API key SID").focus()
    console.page.keyboard.type(account.account_sid)
    console.page.keyboard.press("Tab")
    console.page.keyboard.type(account.auth_token)
    console.page.keyboard.press("Enter")
    console.page.wait_for_url("**/console/conversations")
    expect(console.page.get_by_role("heading", name="Conversations")).to_be_visible()


def test_an_action_sent_through_the_sdk_appears_and_completes_without_a_reload(
    account: Credentials, client: Any, conversation_id: str, console: Console
) -> None:
    console.sign_in(account, f"/console/conversations/{conversation_id}")
    console.page.evaluate("window.notReloaded = true")
    action = send(client, conversation_id, stepMs=1500)  # slow enough to be seen PENDING
    status = console.page.locator(f"#action-{action.id} [data-action-status]")
    expect(status).to_have_text("PENDING")
    expect(status).to_have_text("COMPLETED")
    expect(console.page.locator(f"#action-{action.id}")).to_contain_text("Hello from the SDK")
    assert console.page.evaluate("window.notReloaded") is True


def test_a_reply_as_customer_appears_in_the_timeline(
    account: Credentials, client: Any, conversation_id: str, console: Console
) -> None:
    sid = wait_for_message_sid(client, conversation_id, send(client, conversation_id).id)
    console.sign_in(account, "/console/inbox")
    console.page.locator(f"#message-{sid}").get_by_role("link", name="open and reply").click()
    console.page.get_by_label(f"Reply from {CUSTOMER}").fill("Thanks, got it")
    console.page.get_by_role("button", name="Send as customer").click()
    console.page.wait_for_url(f"**/console/conversations/{conversation_id}?notice=replied")
    reply = console.page.locator(".entry-communication", has_text="Thanks, got it")
    expect(reply).to_contain_text(f"Message from {CUSTOMER}")


def test_a_failed_status_callback_is_redelivered(account: Credentials, client: Any, console: Console) -> None:
    answers = iter([410])  # the first attempt is refused (a 4xx fails at once), later ones accepted
    receiver = Receiver(answer=lambda _r: next(answers, 204))
    try:
        configuration_id = create_configuration(client, statusCallbacks=[{"url": receiver.url(), "method": "POST"}])
        conversation_id = create_conversation(client, configuration_id).id
        [first] = receiver.wait_for_events(1)
        console.sign_in(account, f"/console/conversations/{conversation_id}")
        delivery = console.page.locator(".entry-webhook", has_text="CONVERSATION_CREATED")
        expect(delivery.locator("[data-delivery-status]")).to_have_text("FAILED")
        delivery.get_by_role("button", name="Redeliver").click()
        expect(console.page.get_by_role("status")).to_contain_text("queued for delivery again")
        expect(delivery.locator("[data-delivery-status]")).to_have_text("DELIVERED")
        expect(delivery.locator("tbody tr")).to_have_count(2)
        expect(delivery.locator("tbody tr").nth(1)).to_contain_text("204")
        second = receiver.wait_for_events(2)[1]
        assert (first.token, first.body) == (second.token, second.body)
    finally:
        receiver.close()


def test_the_inbox_filter_shows_only_matching_messages(
    account: Credentials, client: Any, conversation_id: str, console: Console
) -> None:
    one = wait_for_message_sid(client, conversation_id, send(client, conversation_id, to="+14155550101").id)
    two = wait_for_message_sid(client, conversation_id, send(client, conversation_id, to="+14155550102").id)
    console.sign_in(account, "/console/inbox")
    expect(console.page.locator(f"#message-{one}")).to_be_visible()
    expect(console.page.locator(f"#message-{two}")).to_be_visible()
    console.page.get_by_label("To", exact=True).fill("+14155550102")
    console.page.get_by_role("button", name="Filter").click()
    console.page.wait_for_url(re.compile(r".*to=%2B14155550102.*"))
    expect(console.page.locator(f"#message-{two}")).to_be_visible()
    expect(console.page.locator(f"#message-{one}")).to_have_count(0)


def test_another_accounts_conversation_is_a_404_page(account: Credentials, other_client: Any, console: Console) -> None:
    theirs = create_conversation(other_client, create_configuration(other_client)).id
    console.allow_error("status of 404")
    console.sign_in(account)
    answer = console.goto(f"/console/conversations/{theirs}")
    assert answer.status == 404
    expect(console.page.get_by_role("heading", name="Not found")).to_be_visible()


def test_closing_a_conversation_from_its_page(account: Credentials, conversation_id: str, console: Console) -> None:
    console.sign_in(account, f"/console/conversations/{conversation_id}")
    console.page.get_by_role("button", name="Close conversation").click()
    expect(console.page.locator("#conversation-status")).to_have_text("CLOSED")
    expect(console.page.get_by_role("button", name="Close conversation")).to_have_count(0)


def test_a_new_conversation_appears_in_the_list_without_a_reload(
    account: Credentials, client: Any, console: Console
) -> None:
    configuration_id = create_configuration(client)
    console.sign_in(account)
    conversation = create_conversation(client, configuration_id, name="Appeared live")
    expect(console.page.get_by_role("link", name="Appeared live")).to_be_visible()
    console.page.get_by_role("link", name="Appeared live").click()
    console.page.wait_for_url(f"**/console/conversations/{conversation.id}")


def test_a_live_redraw_keeps_the_keyboard_focus(account: Credentials, client: Any, console: Console) -> None:
    receiver = Receiver(answer=lambda _r: 410)  # every callback fails at once: each shows a Redeliver button
    try:
        configuration_id = create_configuration(client, statusCallbacks=[{"url": receiver.url(), "method": "POST"}])
        conversation_id = create_conversation(client, configuration_id).id
        receiver.wait_for_events(1)
        console.sign_in(account, f"/console/conversations/{conversation_id}")
        redeliver = console.page.locator(".entry-webhook", has_text="CONVERSATION_CREATED").get_by_role(
            "button", name="Redeliver"
        )
        redeliver.focus()
        action = send(client, conversation_id)
        expect(console.page.locator(f"#action-{action.id}")).to_be_visible()  # the timeline was drawn again
        expect(redeliver).to_be_focused()
    finally:
        receiver.close()
