"""Who may see a console page, and which form posts are genuine.

Every console endpoint goes through ``page`` (GET) or ``form`` (POST):

- the session cookie must hold a signed-in session (``session``) whose
  credential is still the stored one, else the visitor is sent to sign in
  (a fragment request gets 401 with ``HX-Redirect``);
- a POST must carry the session's CSRF token in its form, and, when the
  browser says where it comes from (``Origin``), come from this server;
- the account of the session scopes every read and write, exactly like the
  API's account: the services raise NotFound for another account's ids, and
  that becomes a 404 page.

Errors from the services become HTML pages with the status the API would
give (``api.errors.status_and_code``), never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import structlog
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from orchestrion.api.console.render import Templates
from orchestrion.api.console.session import COOKIE, LIFETIME_S, PATH, Session, Sessions
from orchestrion.api.context import state
from orchestrion.api.errors import status_and_code
from orchestrion.domain.errors import Forbidden, InvalidInput, OrchestrionError, PayloadTooLarge, Unauthenticated
from orchestrion.services import accounts

log = structlog.get_logger("orchestrion.console")

MAX_FORM_BYTES = 64 * 1024
SIGN_IN = "/console/sign-in"

Form = dict[str, str]
PageHandler = Callable[[Request, Session], Awaitable[Response]]
FormHandler = Callable[[Request, Session, Form], Awaitable[Response]]


@dataclass(slots=True)
class Console:
    sessions: Sessions
    templates: Templates


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


async def signed_in_session(request: Request) -> Session:
    """The visitor's signed-in session, or Unauthenticated."""
    console = console_of(request)
    session = console.sessions.decode(request.cookies.get(COOKIE))
    if session is None or session.account_sid is None or session.username is None:
        raise Unauthenticated("Sign in to use the console")
    digest = await accounts.credential_digest(state(request).ctx, session.username)
    if not console.sessions.credential_matches(session, digest):
        raise Unauthenticated("The credentials of this session changed: sign in again")
    return session


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this server, nothing else (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/conversations"


def to_sign_in(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": SIGN_IN})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{SIGN_IN}?next={quote(target, safe='')}", status_code=303)


def redirect(path: str) -> RedirectResponse:
    """After a form: see the result at ``path`` (303, so a reload never posts twice)."""
    return RedirectResponse(path, status_code=303)


def _own_hosts(request: Request) -> set[str]:
    """The host[:port] this server is reached at: as the request says, and as ORCHESTRION_PUBLIC_URL says.

    Hosts only, not schemes: behind a TLS proxy that does not say so, the request looks like http.
    """
    public_url = state(request).public_url
    return {request.url.netloc} | ({urlsplit(public_url).netloc} if public_url else set())


def _https(request: Request) -> bool:
    return request.url.scheme == "https" or (state(request).public_url or "").startswith("https://")


def set_session(response: Response, request: Request, session: Session | None) -> Response:
    console = console_of(request)
    secure = _https(request)
    if session is None:
        response.delete_cookie(COOKIE, path=PATH, secure=secure, httponly=True, samesite="strict")
    else:
        response.set_cookie(
            COOKIE,
            console.sessions.encode(session),
            max_age=LIFETIME_S,
            path=PATH,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
    return response


def render(
    request: Request, session: Session | None, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page, with what the layout needs: the account, the CSRF token, whether the test clock is on."""
    return console_of(request).templates.response(
        request,
        template,
        status_code=status_code,
        session=session,
        account_sid=session.account_sid if session else None,
        csrf=session.csrf if session else "",
        clock_enabled=state(request).test_clock is not None,
        **context,
    )


def error_page(request: Request, session: Session | None, error: OrchestrionError) -> HTMLResponse:
    status, _code = status_and_code(type(error))
    if status >= 500:
        log.warning("console_error", path=request.url.path, error=type(error).__name__)
    return render(request, session, "error.html", status_code=status, status=status, message=error.message)


async def read_form(request: Request, session: Session) -> Form:
    """The posted form, once its CSRF token and origin are checked."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc not in _own_hosts(request):
        raise Forbidden("This form was posted from another site")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"A console form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("The form could not be read") from error
    if not console_of(request).sessions.csrf_matches(session, fields.pop("csrf", None)):
        raise Forbidden("This form has expired or did not come from the console: reload the page and try again")
    return fields


def _guarded(run: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        session: Session | None = None
        try:
            session = await signed_in_session(request)
            return await run(request, session)
        except Unauthenticated:
            return to_sign_in(request)
        except OrchestrionError as error:
            return error_page(request, session, error)

    return endpoint


def page(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """A GET endpoint for signed-in visitors."""
    return functools.wraps(handler)(_guarded(handler))


def form(handler: FormHandler) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint for signed-in visitors, behind the CSRF check."""

    async def run(request: Request, session: Session) -> Response:
        return await handler(request, session, await read_form(request, session))

    return functools.wraps(handler)(_guarded(run))
