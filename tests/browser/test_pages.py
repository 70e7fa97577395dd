"""Every console page, filled with data, on a laptop and a phone; and the test clock page.

These run on a server of their own with the test clock on (on this module's
own database: a moved clock must not fire other tests' timers).
``ORCHESTRION_CONSOLE_SCREENSHOTS=docs/console`` saves the screenshots shown
in the README (``scripts/console-screenshots`` does that).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.acceptance.conftest import create_configuration, create_conversation
from tests.acceptance.webhook_receiver import Receiver
from tests.browser.conftest import LAPTOP, PHONE, SCREENSHOTS, Console, open_console
from tests.browser.sdk import AGENT, CUSTOMER, send, wait_for_message_sid
from tests.conftest import Credentials, LiveServer, new_account, sdk_client, test_settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clock_server(private_database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(test_settings(private_database_url, test_clock=True, test_clock_allow_postgres=True)).start()
    yield live
    live.stop()


@pytest.fixture
def clock_account(private_database_url: str) -> Credentials:
    return new_account(private_database_url)


@pytest.fixture
def clock_console(clock_server: LiveServer) -> Iterator[Console]:
    yield from open_console(clock_server)


def _populate(client: Any, receiver: Receiver) -> tuple[str, str]:
    """A configuration with capture rules and a callback, a conversation with a bit of everything."""
    configuration_id = create_configuration(
        client,
        displayName="Support",
        description="Customer support on SMS",
        channelSettings={"SMS": {"captureRules": [{"from": "*", "to": AGENT}], "statusTimeouts": {"closed": 30}}},
        statusCallbacks=[{"url": receiver.url(), "method": "POST"}],
    )
    conversation_id = str(create_conversation(client, configuration_id, name="Order #1042").id)
    sid = wait_for_message_sid(
        client, conversation_id, send(client, conversation_id, text="Your order has shipped.").id
    )
    send(client, conversation_id, to="+15005550001", text="And a message to a number that does not exist")
    return conversation_id, sid


def test_every_page_renders_on_a_laptop_and_a_phone(
    clock_server: LiveServer, clock_account: Credentials, private_database_url: str, clock_console: Console
) -> None:
    client = sdk_client(clock_server, clock_account)
    answers = iter([503, 503, 503])  # the first callback fails all its attempts: the page shows a Redeliver button
    receiver = Receiver(answer=lambda _r: next(answers, 204))
    try:
        conversation_id, sid = _populate(client, receiver)
        console = clock_console
        console.sign_in(clock_account, f"/console/inbox/{sid}")
        console.page.get_by_label(f"Reply from {CUSTOMER}").fill("Great, thank you!")
        console.page.get_by_role("button", name="Send as customer").click()
        console.page.wait_for_url(f"**/console/conversations/{conversation_id}?notice=replied")
        expect(console.page.locator(".entry-action [data-action-status]", has_text="FAILED")).to_be_visible()
        time.sleep(1.5)  # let the callbacks' retries settle before the pictures (a picture, not an assertion)
        pages = {
            "conversations": "/console/conversations",
            "conversation": f"/console/conversations/{conversation_id}",
            "inbox": "/console/inbox",
            "message": f"/console/inbox/{sid}",
            "configurations": "/console/configurations",
            "clock": "/console/clock",
        }
        configuration = console.page.locator(".facts a").first.get_attribute("href")
        assert configuration is not None
        pages["configuration"] = configuration
        folder = Path(SCREENSHOTS) if SCREENSHOTS and private_database_url.startswith("sqlite") else None
        for size_name, size in (("laptop", LAPTOP), ("phone", PHONE)):
            console.page.set_viewport_size(size)
            for name, path in pages.items():
                answer = console.goto(path)
                assert answer.status == 200, f"{path}: {answer.status}"
                expect(console.page.locator("main h1").first).to_be_visible()
                if folder is not None:
                    folder.mkdir(parents=True, exist_ok=True)
                    console.page.screenshot(path=str(folder / f"{name}-{size_name}.png"), full_page=True)
        console.goto("/console/sign-in")  # signed in: it sends the visitor on
        if folder is not None:
            console.page.context.clear_cookies()
            console.page.set_viewport_size(LAPTOP)
            console.goto("/console/sign-in")
            console.page.screenshot(path=str(folder / "sign-in-laptop.png"))
    finally:
        receiver.close()


def test_advancing_the_test_clock_closes_a_quiet_conversation(
    clock_server: LiveServer, clock_account: Credentials, clock_console: Console
) -> None:
    client = sdk_client(clock_server, clock_account)
    configuration_id = create_configuration(client, channelSettings={"SMS": {"statusTimeouts": {"closed": 30}}})
    conversation_id = create_conversation(client, configuration_id).id
    console = clock_console
    console.sign_in(clock_account, "/console/clock")
    console.page.get_by_label("Advance by").fill("45")
    console.page.get_by_label("Unit").select_option("minutes")
    console.page.get_by_role("button", name="Advance").click()
    expect(console.page.get_by_role("status")).to_contain_text("moved forward")
    console.goto(f"/console/conversations/{conversation_id}")
    expect(console.page.locator("#conversation-status")).to_have_text("CLOSED")
