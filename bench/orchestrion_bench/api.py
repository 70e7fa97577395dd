"""The API flow the phases drive: setup calls, listing, and waiting for Actions to end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from orchestrion_bench.client import NETWORK_ERRORS, Client

TERMINAL = frozenset({"COMPLETED", "FAILED"})
MEMORY_STORE_ID = "mem_store_01jq7z8k9m0n1p2q3r4s5t6v7w"


class ApiError(RuntimeError):
    pass


async def _call(client: Client, method: str, path: str, body: Any = None, timeout_s: float = 30.0) -> tuple[int, Any]:
    async with asyncio.timeout(timeout_s):
        status, data = await client.request(method, path, None if body is None else orjson.dumps(body))
    try:
        parsed = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        parsed = data.decode(errors="replace")
    if not 200 <= status < 300:
        raise ApiError(f"{method} {path} -> HTTP {status}: {str(parsed)[:500]}")
    return status, parsed


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def create_configuration(client: Client, timeout_s: float, **extra: Any) -> str:
    """A configuration (``extra`` overrides or adds body fields), once its operation is COMPLETED."""
    _, body = await _call(
        client, "POST", "/v2/ControlPlane/Configurations",
        {
            "displayName": "bench",
            "description": "bench",
            "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
            "memoryStoreId": MEMORY_STORE_ID,
            **extra,
        },
    )  # fmt: skip
    config_id = (body.get("related") or {}).get("configurationId") or body.get("id")
    status_url = body.get("statusUrl")
    if status_url:
        deadline = time.perf_counter() + timeout_s
        while True:
            _, op = await _call(client, "GET", _path_of(status_url))
            state = op.get("status")
            config_id = config_id or (op.get("related") or {}).get("configurationId")
            if state == "COMPLETED":
                break
            if state == "FAILED":
                raise ApiError(f"configuration operation failed: {op}")
            if time.perf_counter() > deadline:
                raise ApiError(f"configuration operation not COMPLETED after {timeout_s}s: {op}")
            await asyncio.sleep(0.02)
    if not config_id:
        raise ApiError(f"no configuration id in {body}")
    return str(config_id)


async def create_conversations(clients: Sequence[Client], config_id: str, n: int) -> list[str]:
    ids: list[str] = []
    todo = iter(range(n))

    async def worker(client: Client) -> None:
        for _ in todo:
            _, body = await _call(client, "POST", "/v2/Conversations", {"configurationId": config_id})
            ids.append(str(body["id"]))

    await asyncio.gather(*(worker(c) for c in clients))
    return ids


async def _list_all(client: Client, path: str, key: str, timeout_s: float) -> list[dict[str, Any]]:
    """Every item of a paged list endpoint."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    sep = "&" if "?" in path else "?"
    while True:
        url = f"{path}{sep}pageSize=1000" + (f"&pageToken={token}" if token else "")
        _, body = await _call(client, "GET", url, timeout_s=timeout_s)
        items.extend(body.get(key) or [])
        token = (body.get("meta") or {}).get("nextToken")
        if not token:
            return items


async def count_inbound(
    clients: Sequence[Client], config_id: str, sids: Sequence[str], timeout_s: float
) -> dict[str, Any]:
    """How many of the sent MessageSids are Communications, in how many conversations of ``config_id``."""
    start = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        convs = await _list_all(clients[0], "/v2/Conversations", "conversations", timeout_s)
        mine = [str(c["id"]) for c in convs if c.get("configurationId") == config_id]
        wanted = set(sids)
        found: set[str] = set()
        todo = iter(mine)

        async def worker(client: Client) -> None:
            for conv in todo:
                path = f"/v2/Conversations/{conv}/Communications"
                for comm in await _list_all(client, path, "communications", timeout_s):
                    if comm.get("channelId") in wanted:
                        found.add(str(comm["channelId"]))

        await asyncio.gather(*(worker(c) for c in clients))
    return {"communications": len(found), "conversations": len(mine), "count_s": time.perf_counter() - start}


def status_of(data: bytes) -> str | None:
    try:
        value = orjson.loads(data).get("status")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) else None


async def drain(clients: Sequence[Client], action_paths: Sequence[str], timeout_s: float) -> dict[str, Any]:
    """Wait until every created action is terminal; count final statuses.

    Watches the newest action first (dispatch is presumably roughly FIFO), then
    sweeps all of them, re-polling only the ones still not terminal.
    """
    start = time.perf_counter()
    deadline = start + timeout_s
    final: dict[str, str] = {}
    if action_paths:
        last = action_paths[-1]
        while time.perf_counter() < deadline:
            try:
                status, data = await clients[0].request("GET", last)
            except NETWORK_ERRORS:
                status, data = 0, b""
            if status == 200 and status_of(data) in TERMINAL:
                break
            await asyncio.sleep(0.02)
    pending = list(action_paths)
    sweeps = 0
    while pending and time.perf_counter() < deadline:
        sweeps += 1
        todo = iter(pending)
        still: list[str] = []

        async def worker(client: Client, todo: Iterator[str], still: list[str]) -> None:
            for path in todo:
                try:
                    status, data = await client.request("GET", path)
                except NETWORK_ERRORS:
                    status, data = 0, b""
                state = status_of(data) if status == 200 else None
                if state in TERMINAL:
                    final[path] = state
                else:
                    still.append(path)

        await asyncio.gather(*(worker(c, todo, still) for c in clients))
        pending = still
        if pending:
            await asyncio.sleep(0.05)
    counts = Counter(final.values())
    return {
        "actions": len(action_paths),
        "completed": counts.get("COMPLETED", 0),
        "failed": counts.get("FAILED", 0),
        "not_terminal": len(pending),
        "drain_s": time.perf_counter() - start,
        "sweeps": sweeps,
    }
