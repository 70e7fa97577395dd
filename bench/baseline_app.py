"""Bare ASGI app used as the performance floor of the bench.

No framework, no routing, no auth, no storage: any GET answers 200 with a
fixed action body in COMPLETED state, any other method drains the request body
and answers 202 with the same action in PENDING state. The bodies have the
shape and size of a real SEND_MESSAGE action so that the bytes on the wire are
comparable with Orchestrion's.
"""

from __future__ import annotations

from bare_asgi import ACTION_ID, CONVERSATION_ID, Receive, Scope, Send, action_body, asgi_app, read_body, start_message

COMPLETED_BODY = action_body(ACTION_ID, CONVERSATION_ID, completed=True)
PENDING_BODY = action_body(ACTION_ID, CONVERSATION_ID, completed=False)
_GET_START = start_message(200, COMPLETED_BODY)
_POST_START = start_message(202, PENDING_BODY)
_GET_BODY = {"type": "http.response.body", "body": COMPLETED_BODY}
_POST_BODY = {"type": "http.response.body", "body": PENDING_BODY}


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] == "GET":
        await send(_GET_START)
        await send(_GET_BODY)
        return
    await read_body(receive)
    await send(_POST_START)
    await send(_POST_BODY)


app = asgi_app(_http)
