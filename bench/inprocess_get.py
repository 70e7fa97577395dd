"""What the action-status GET costs in Orchestrion's own code: the ASGI app called in a loop, no socket.

    .venv/bin/python bench/inprocess_get.py [--n 20000]

Builds the app as ``orchestrion serve`` does (SQLite in a temporary folder, the in-process
dispatcher, logs at warning), creates one Action through the app and waits for it to complete,
then reads it ``--n`` times, one request at a time, and prints this process's CPU per read:
through the whole middleware stack, then the status body alone (service, store, rendering),
the store's read alone, and an empty read transaction. Nothing here waits on a socket, so every
read runs with the interpreter's caches warm: under the bench's 32 connections the same code
costs about twice as much (bench/README.md, "sixth pass").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from orchestrion_bench.api import MEMORY_STORE_ID
from orchestrion_bench.client import basic_auth

SID, TOKEN = "AC" + "7" * 32, "inprocess-get-token-0123456789ab"
Asgi = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


def _scope(method: str, path: str) -> dict[str, Any]:
    auth = basic_auth(SID, TOKEN)
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "path": path,
        "raw_path": path.encode(), "query_string": b"", "root_path": "", "scheme": "http",
        "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 1), "state": {},
        "headers": [(b"host", b"127.0.0.1:8080"), (b"authorization", auth), (b"content-type", b"application/json")],
    }  # fmt: skip


async def _call(app: Asgi, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []
    data = b"" if body is None else orjson.dumps(body)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(method, path), receive, send)
    payload = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], orjson.loads(payload) if payload else None


async def _per_call(label: str, n: int, operation: Callable[[], Awaitable[object]]) -> None:
    await operation()
    started = time.process_time()
    for _ in range(n):
        await operation()
    print(f"{label:<44} {1e6 * (time.process_time() - started) / n:7.1f} us CPU per call")


async def _lifespan(app: Asgi, event: str, inbox: asyncio.Queue[dict[str, Any]], outbox: asyncio.Queue[Any]) -> None:
    await inbox.put({"type": f"lifespan.{event}"})
    answer = await outbox.get()
    assert answer["type"] == f"lifespan.{event}.complete", answer


async def main(n: int) -> None:
    folder = tempfile.mkdtemp(prefix="orchestrion-inprocess-")
    os.environ.update(
        ORCHESTRION_DATABASE_URL=f"sqlite:///{folder}/inprocess.db",
        ORCHESTRION_SECRET_KEY_FILE=f"{folder}/secret.key",
        ORCHESTRION_ACCOUNT_SID=SID,
        ORCHESTRION_AUTH_TOKEN=TOKEN,
        ORCHESTRION_LOG_LEVEL="warning",
    )
    from orchestrion import logs
    from orchestrion.api.routes.actions import status_body
    from orchestrion.runtime import Runtime
    from orchestrion.settings import Settings
    from orchestrion.store.migrate import upgrade

    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    upgrade(settings.database_url.get_secret_value())
    runtime = Runtime.build(settings)
    app: Any = runtime.app(run_worker=True)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    life = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await _lifespan(app, "startup", inbox, outbox)
    await runtime.ensure_dev_account()
    try:
        _, created = await _call(app, "POST", "/v2/ControlPlane/Configurations", {
            "displayName": "inprocess", "description": "inprocess",
            "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES", "memoryStoreId": MEMORY_STORE_ID,
        })  # fmt: skip
        await asyncio.sleep(0.5)  # the configuration's operation
        _, conversation = await _call(
            app, "POST", "/v2/Conversations", {"configurationId": created["related"]["configurationId"]}
        )
        cid = conversation["id"]
        _, action = await _call(app, "POST", f"/v2/Conversations/{cid}/Actions", {
            "type": "SEND_MESSAGE",
            "payload": {"from": {"address": "+15550000001", "channel": "SMS"},
                        "to": [{"address": "+15550000002", "channel": "SMS"}], "content": {"text": "hi"}},
        })  # fmt: skip
        path, aid = f"/v2/Conversations/{cid}/Actions/{action['id']}", action["id"]
        for _ in range(100):
            if (await _call(app, "GET", path))[1]["status"] != "PENDING":
                break
            await asyncio.sleep(0.05)
        api, store = app.state.api, runtime.ctx.store

        async def view() -> object:
            async with store.read() as tx:
                return await tx.actions.view(SID, cid, aid)

        async def empty() -> object:
            async with store.read():
                return None

        await _per_call("GET through the whole app", n, lambda: _call(app, "GET", path))
        await _per_call("status body (service, store, rendering)", n, lambda: status_body(api, SID, cid, aid))
        await _per_call("store read: ActionRepo.view", n, view)
        await _per_call("store read: an empty read transaction", n, empty)
    finally:
        await _lifespan(app, "shutdown", inbox, outbox)
        await life


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    asyncio.run(main(parser.parse_args().n))
