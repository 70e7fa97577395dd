"""The gate in front of every authenticated route: who is calling, and may they now.

Authentication and the per-account limits run before routing, so a request
refused with 401 or 429 has no effect at all.
"""

from __future__ import annotations

import itertools
import os

from starlette.types import ASGIApp, Receive, Scope, Send

from orchestrion.api import errors
from orchestrion.api.context import ApiState, credentials_from_header
from orchestrion.domain.errors import OrchestrionError

# /v2: Conversations and the Studio stand-in (/v2/Flows); /v1/Stores: the Memory stand-in;
# /2010-04-01: Twilio's Messages API.
PROTECTED_PREFIXES = ("/v2/", "/sandbox", "/v1/Stores", "/2010-04-01/")
_tokens = itertools.count()


class Gate:
    def __init__(self, app: ASGIApp, api: ApiState) -> None:
        self.app = app
        self.api = api
        self._token_prefix = f"{os.getpid()}-{id(self)}-"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        token = self._token_prefix + str(next(_tokens))
        entered = False
        account_sid = ""
        try:
            header = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            username, password = credentials_from_header(header)
            account_sid = await self.api.auth.authenticate(username, password)
            await self.api.limits.account_request(account_sid)
            entered = await self.api.limits.enter(account_sid, token)
        except OrchestrionError as error:
            await errors.from_domain(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["account_sid"] = account_sid
        try:
            await self.app(scope, receive, send)
        finally:
            if entered:
                await self.api.limits.leave(account_sid, token)
