"""Console session cookies (api.console.session): signed, expiring, tied to the stored credential."""

from __future__ import annotations

import dataclasses
import time

from orchestrion.api.console.session import Session, Sessions

KEY = b"k" * 32
DIGEST = b"d" * 32


def test_a_session_comes_back_from_its_cookie() -> None:
    sessions = Sessions(KEY)
    session = sessions.signed_in("AC" + "1" * 32, "SK" + "2" * 32, DIGEST)
    assert sessions.decode(sessions.encode(session)) == session


def test_an_altered_cookie_is_no_session() -> None:
    sessions = Sessions(KEY)
    cookie = sessions.encode(sessions.signed_in("AC" + "1" * 32, "AC" + "1" * 32, DIGEST))
    forged = sessions.encode(sessions.signed_in("AC" + "9" * 32, "AC" + "9" * 32, DIGEST))
    assert sessions.decode(forged.split(".")[0] + "." + cookie.split(".")[1]) is None
    assert sessions.decode(cookie[:-2]) is None
    assert sessions.decode("garbage") is None and sessions.decode(None) is None


def test_a_cookie_signed_with_another_key_is_no_session() -> None:
    cookie = Sessions(b"o" * 32).encode(Sessions(b"o" * 32).anonymous())
    assert Sessions(KEY).decode(cookie) is None


def test_an_expired_session_is_no_session() -> None:
    sessions = Sessions(KEY)
    expired = dataclasses.replace(sessions.anonymous(), expires_s=int(time.time()) - 1)
    assert sessions.decode(sessions.encode(expired)) is None


def test_a_session_matches_only_the_credential_it_signed_in_with() -> None:
    sessions = Sessions(KEY)
    session = sessions.signed_in("AC" + "1" * 32, "AC" + "1" * 32, DIGEST)
    assert sessions.credential_matches(session, DIGEST)
    assert not sessions.credential_matches(session, b"e" * 32)  # the token was rotated
    assert not sessions.credential_matches(session, None)  # the key or account is gone
    assert not sessions.credential_matches(sessions.anonymous(), DIGEST)


def test_a_form_token_must_be_the_sessions_own() -> None:
    sessions = Sessions(KEY)
    session = sessions.anonymous()
    assert sessions.csrf_matches(session, session.csrf)
    assert not sessions.csrf_matches(session, sessions.anonymous().csrf)
    assert not sessions.csrf_matches(session, None)


def test_signing_in_gives_a_new_form_token() -> None:
    sessions = Sessions(KEY)
    before = sessions.anonymous()
    after = sessions.signed_in("AC" + "1" * 32, "AC" + "1" * 32, DIGEST)
    assert before.csrf != after.csrf


def test_secrets_stay_out_of_the_repr() -> None:
    session = Session(csrf="token-value", expires_s=1, credential="fingerprint-value")
    assert "token-value" not in repr(session) and "fingerprint-value" not in repr(session)
