"""Console sessions: a signed cookie, HttpOnly, SameSite=Strict, scoped to /console.

The cookie holds the session itself (no server-side store, so any process
of a deployment can check it): the account, the SID used to sign in, a keyed
hash of the credential stored at sign-in, the CSRF token of its forms and an
expiry, signed with HMAC-SHA256 under a key derived from the server's secret
key. A forged or altered cookie fails the signature; an old one fails the
expiry; one whose credential was since rotated fails ``credential_matches``.
A visitor who has not signed in gets an anonymous session (a CSRF token only)
so that the sign-in form is protected too; signing in issues a new session
with a new token.

Expiry uses the wall clock, never the test clock (which may jump hours ahead).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field, replace

import orjson

COOKIE = "orchestrion_console"
PATH = "/console"
LIFETIME_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str = field(repr=False)
    expires_s: int
    account_sid: str | None = None  # None: not signed in
    username: str | None = None  # the Account SID or API key SID signed in with
    credential: str | None = field(default=None, repr=False)  # keyed hash of the stored credential

    @property
    def signed_in(self) -> bool:
        return self.account_sid is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues, signs and checks console sessions under one key."""

    def __init__(self, key: bytes, lifetime_s: int = LIFETIME_S) -> None:
        self._key = key
        self._lifetime_s = lifetime_s

    def anonymous(self) -> Session:
        return Session(csrf=secrets.token_urlsafe(24), expires_s=int(time.time()) + self._lifetime_s)

    def signed_in(self, account_sid: str, username: str, credential_digest: bytes) -> Session:
        return replace(
            self.anonymous(),
            account_sid=account_sid,
            username=username,
            credential=self.fingerprint(credential_digest),
        )

    def fingerprint(self, credential_digest: bytes) -> str:
        return _b64(hmac.new(self._key, b"credential\x00" + credential_digest, hashlib.sha256).digest()[:16])

    def credential_matches(self, session: Session, credential_digest: bytes | None) -> bool:
        if credential_digest is None or session.credential is None:
            return False
        return hmac.compare_digest(session.credential, self.fingerprint(credential_digest))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"session\x00" + payload, hashlib.sha256).digest()

    def encode(self, session: Session) -> str:
        payload = orjson.dumps(
            [session.csrf, session.expires_s, session.account_sid, session.username, session.credential]
        )
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session in ``cookie``, or None if it is missing, forged, altered or expired."""
        if not cookie or "." not in cookie:
            return None
        body, _, mac = cookie.partition(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                return None
            csrf, expires_s, account_sid, username, credential = orjson.loads(payload)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            return None
        if not isinstance(expires_s, int) or expires_s <= time.time() or not isinstance(csrf, str):
            return None
        return Session(csrf, expires_s, account_sid, username, credential)

    def csrf_matches(self, session: Session, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(session.csrf.encode(), token.encode())
