"""``X-Twilio-Signature``, computed the way Twilio signs its webhooks.

Pure functions of (URL, body, auth token); no I/O.

- JSON body (POST): a ``bodySHA256`` query parameter holding the hex SHA-256
  of the exact body is added to the URL; the signature is the base64
  HMAC-SHA1, keyed with the account's auth token, of that full URL alone.
- No body (GET): the signature covers the full URL, query string included.

``twilio.request_validator.RequestValidator(token).validate(url, body, signature)``
(POST) or ``.validate(url, {}, signature)`` (GET) accepts both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

SIGNATURE_HEADER = "X-Twilio-Signature"
BODY_HASH_PARAM = "bodySHA256"


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def with_query(url: str, params: Iterable[tuple[str, str]]) -> str:
    """``url`` (fragment dropped: it never reaches a receiver) with ``params`` appended to its query.

    Names and values are escaped except for ``[A-Za-z0-9_.~-]``, so an HTTP
    client sends the URL exactly as it is signed.
    """
    base = url.partition("#")[0]
    added = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params)
    if not added:
        return base
    if "?" not in base:
        return f"{base}?{added}"
    return f"{base}{'' if base.endswith(('?', '&')) else '&'}{added}"


def with_body_hash(url: str, body: bytes) -> str:
    """The URL a JSON webhook is sent to and signed on: ``url`` plus ``bodySHA256``."""
    return with_query(url, [(BODY_HASH_PARAM, body_sha256(body))])


def signature(url: str, auth_token: str) -> str:
    """Base64 HMAC-SHA1 of ``url``, keyed with ``auth_token``."""
    mac = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()
