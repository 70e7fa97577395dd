"""A browser without JavaScript, for the console's HTTP-level tests: cookies kept, CSRF tokens read from pages."""

from __future__ import annotations

import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=15)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def csrf(self, page: str) -> str:
        """The CSRF token of the forms on ``page``."""
        found = _CSRF.search(self.get(page).text)
        assert found is not None, f"no form with a CSRF token on {page}"
        return found.group(1)

    def post(self, path: str, fields: dict[str, str], *, page: str, **kwargs: Any) -> httpx.Response:
        """Submit a form of ``page`` to ``path``, with that page's CSRF token."""
        return self.http.post(path, data={"csrf": self.csrf(page), **fields}, **kwargs)

    def sign_in(self, username: str, password: str, next_path: str = "") -> httpx.Response:
        fields = {"username": username, "password": password}
        if next_path:
            fields["next"] = next_path
        return self.post("/console/sign-in", fields, page="/console/sign-in")
