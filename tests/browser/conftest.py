"""Browser tests: Playwright driving Debian's Chromium against a live server.

Chromium comes from the system (``apt-get install chromium``; ``.ci/run``
installs it), never from ``playwright install``. Without it the tests skip
with a message saying so; in CI (CI=true) they fail instead.

Playwright's synchronous API keeps an event loop marked as running on this
thread while a browser is open, so each test opens its own browser after its
other fixtures ran (those use ``asyncio.run``), and tests arrange their data
before opening pages.

Every page a test opens is watched: a JavaScript error, a refused script or a
Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, Credentials, LiveServer

CHROMIUM = os.environ.get("ORCHESTRION_TEST_CHROMIUM") or "/usr/bin/chromium"
# Headless, and nothing that reaches for the network on its own (the machine's network is closed).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Set to a folder (docs/console) to save the screenshots of test_screenshots there.
SCREENSHOTS = os.environ.get("ORCHESTRION_CONSOLE_SCREENSHOTS")


def chromium_path() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set ORCHESTRION_TEST_CHROMIUM)"
    if IN_CI:
        pytest.fail(f"{message}; CI must run the browser tests", pytrace=False)
    pytest.skip(message)


@dataclass
class Console:
    """One browser page on the live server's console, and what went wrong in it."""

    page: Any  # playwright.sync_api.Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def sign_in(self, creds: Credentials, path: str = "/console/conversations") -> None:
        self.goto(path)
        self.page.get_by_label("Account SID or API key SID").fill(creds.account_sid)
        self.page.get_by_label("Auth token or API key secret").fill(creds.auth_token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"**{path}")

    def allow_error(self, pattern: str) -> None:
        """An error message this test expects the browser to log (e.g. the 404 of a page it opens on purpose)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console(server: LiveServer) -> Iterator[Console]:
    """A fresh Chromium on the session's live server (request it last: see the module)."""
    yield from open_console(server)


def open_console(server: LiveServer, viewport: dict[str, int] | None = None) -> Iterator[Console]:
    from playwright.sync_api import expect, sync_playwright

    path = chromium_path()
    expect.set_options(timeout=20_000)  # live updates poll once a second; the machine may be busy
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=FLAGS)
        context = browser.new_context(viewport=viewport or LAPTOP)
        context.set_default_timeout(30_000)
        page = context.new_page()
        watched = Console(page, server.url)
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: watched.errors.append(f"page error: {e}"))
        page.on("dialog", lambda d: d.accept())  # the console's confirmations: the test means it
        try:
            yield watched
        finally:
            context.close()
            browser.close()
    assert watched.unexpected_errors() == []
