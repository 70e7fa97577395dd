"""Signing in and out of the console.

Sign-in checks the Account SID and auth token (or API key SID and secret)
with the API's own Authenticator, so the console accepts exactly the
credentials the API accepts, then issues a new session (a fresh CSRF token:
a session fixed before sign-in is worth nothing after). Wrong credentials
get the form again with 401 and one message, whichever part was wrong.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from orchestrion.api.console.guard import (
    SIGN_IN,
    console_of,
    form,
    read_form,
    redirect,
    render,
    safe_next,
    set_session,
    signed_in_session,
)
from orchestrion.api.console.session import COOKIE, Session
from orchestrion.api.context import state
from orchestrion.domain.errors import OrchestrionError, Unauthenticated
from orchestrion.services import accounts

REFUSED = "Those credentials were not accepted. Check the SID and its secret."


def _sign_in_form(
    request: Request,
    session: Session,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    next_path: str | None = None,
) -> Response:
    response = render(
        request,
        None,
        "sign_in.html",
        status_code=status_code,
        sign_in_csrf=session.csrf,
        next=safe_next(next_path or request.query_params.get("next")),
        error=error,
        username=username,
    )
    return set_session(response, request, session)


async def sign_in_page(request: Request) -> Response:
    try:
        await signed_in_session(request)
    except Unauthenticated:
        pass
    else:
        return redirect(safe_next(request.query_params.get("next")))
    sessions = console_of(request).sessions
    current = sessions.decode(request.cookies.get(COOKIE))
    return _sign_in_form(request, current if current is not None else sessions.anonymous())


async def sign_in(request: Request) -> Response:
    sessions = console_of(request).sessions
    current = sessions.decode(request.cookies.get(COOKIE)) or sessions.anonymous()
    try:
        fields = await read_form(request, current)
    except OrchestrionError as error:
        return _sign_in_form(request, sessions.anonymous(), 403, error.message)
    username = fields.get("username", "").strip()
    password = fields.get("password", "")
    api = state(request)
    try:
        account_sid = await api.auth.authenticate(username, password)
        # The Authenticator remembers good credentials for a while; the session must hold the current ones.
        digest = await accounts.credential_digest(api.ctx, username)
        if digest is None or not hmac.compare_digest(digest, accounts.secret_digest(password)):
            raise Unauthenticated("The credentials changed")
    except Unauthenticated:
        return _sign_in_form(request, current, 401, REFUSED, username, fields.get("next"))
    response = redirect(safe_next(fields.get("next")))
    return set_session(response, request, sessions.signed_in(account_sid, username, digest))


@form
async def sign_out(request: Request, session: Session, fields: dict[str, str]) -> Response:
    return set_session(redirect(SIGN_IN), request, None)
