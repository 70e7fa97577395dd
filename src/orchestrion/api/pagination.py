"""Opaque, tamper-evident page tokens and the list envelope."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from orchestrion.domain.clock import from_wire
from orchestrion.domain.errors import InvalidInput
from orchestrion.store.paging import Page, PageRequest

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


class PageTokens:
    """Signs page tokens so a tampered or foreign token is a 400, not a 500.

    The signature covers the account and the list's scope (path and filters),
    so a token only works on the list that issued it.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, scope: str, payload: bytes) -> bytes:
        return hmac.new(self._key, scope.encode() + b"\x00" + payload, hashlib.sha256).digest()[:16]

    def encode(self, scope: str, direction: str, boundary: str) -> str:
        payload = orjson.dumps([direction, boundary])
        return base64.urlsafe_b64encode(self._mac(scope, payload) + payload).decode().rstrip("=")

    def decode(self, scope: str, token: str) -> tuple[str, str]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            mac, payload = raw[:16], raw[16:]
            if not hmac.compare_digest(mac, self._mac(scope, payload)):
                raise ValueError("bad signature")
            direction, boundary = orjson.loads(payload)
            if direction not in ("n", "p") or not isinstance(boundary, str):
                raise ValueError("bad payload")
        except (ValueError, TypeError, orjson.JSONDecodeError) as error:
            raise InvalidInput("Invalid pageToken: it is malformed or belongs to another list") from error
        return direction, boundary


def page_request(request: Request, tokens: PageTokens, scope: str) -> PageRequest:
    # twilio-python's *_with_http_info list calls send PageSize/PageToken.
    params = request.query_params
    raw_size = params.get("pageSize") or params.get("PageSize")
    size = DEFAULT_PAGE_SIZE
    if raw_size not in (None, ""):
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise InvalidInput(f"Invalid parameter pageSize: must be an integer from 1 to {MAX_PAGE_SIZE}")
        size = int(raw_size)
    token = params.get("pageToken") or params.get("PageToken")
    if not token:
        return PageRequest(limit=size)
    direction, boundary = tokens.decode(scope, token)
    return PageRequest(limit=size, after=boundary) if direction == "n" else PageRequest(limit=size, before=boundary)


def envelope(
    key: str,
    page: Page[T],
    size: int,
    tokens: PageTokens,
    scope: str,
    to_wire: Callable[[T], dict[str, Any]],
    item_id: Callable[[T], str],
) -> dict[str, Any]:
    return {key: [to_wire(item) for item in page.items], "meta": page_meta(key, page, size, tokens, scope, item_id)}


def page_meta(
    key: str, page: Page[T], size: int, tokens: PageTokens, scope: str, item_id: Callable[[T], str]
) -> dict[str, Any]:
    """``{"key", "pageSize", "nextToken"?, "previousToken"?}`` of a page."""
    meta: dict[str, Any] = {"key": key, "pageSize": size}
    if page.items and page.more_after:
        meta["nextToken"] = tokens.encode(scope, "n", item_id(page.items[-1]))
    if page.items and page.more_before:
        meta["previousToken"] = tokens.encode(scope, "p", item_id(page.items[0]))
    return meta


def descending(request: Request) -> bool:
    """``orderBy``: ``DESC`` (the default) or ``ASC``, as the Memory API's lists take it."""
    order = (request.query_params.get("orderBy") or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise InvalidInput("Invalid parameter orderBy: must be ASC or DESC")
    return order == "DESC"


def time_param(request: Request, name: str) -> int | None:
    """A date-time query parameter (a list filter), in epoch milliseconds; absent or empty: None."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return from_wire(raw)
    except ValueError as error:
        raise InvalidInput(f"Invalid parameter {name}: an ISO 8601 date-time with a time zone is expected") from error
