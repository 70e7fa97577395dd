"""Keyset pagination at depth: the first page of the Conversations list against a page far into it.

The account gets one Conversation through the API, then ``--page-depth``
copies of its row written straight into the target's database (through the
API it would take minutes). The phase walks the list with the largest page
size to the page at that depth, keeps the token the server gave for it, then
reads the first page and the deep page in turn, each in a closed loop of the
phase's duration. Keyset pagination means both cost the same: the report's
ratio (deep ÷ first, in requests per second) should stay near 1.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

import orjson

from orchestrion_bench.api import ApiError, create_configuration
from orchestrion_bench.client import Client, ClientPool, Request
from orchestrion_bench.cpu import CpuMeter
from orchestrion_bench.load import closed_loop
from orchestrion_bench.running import RunContext, Running

LIST = "/v2/Conversations"
WALK_PAGE_SIZE = 1000  # the API's largest page


async def _seed(database_url: str, template_id: str, copies: int) -> None:
    """``copies`` Conversations like ``template_id``, each with a new time-ordered id, in one transaction."""
    from orchestrion.domain import ids  # the bench runs in the project's environment

    new_ids = [ids.new_id(ids.CONVERSATION) for _ in range(copies)]
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            columns = [row[1] for row in conn.execute("PRAGMA table_info(conversations)")]
            others = ", ".join(c for c in columns if c != "id")
            conn.executemany(
                f"INSERT INTO conversations (id, {others}) SELECT ?, {others} FROM conversations WHERE id = ?",
                [(new, template_id) for new in new_ids],
            )
        return
    import asyncpg  # only the postgres targets need it

    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = 'conversations'")
        others = ", ".join(f'"{r["column_name"]}"' for r in rows if r["column_name"] != "id")
        await conn.execute(
            f"INSERT INTO conversations (id, {others}) "
            f"SELECT new_id, {others} FROM conversations, unnest($1::text[]) AS new_id WHERE id = $2",
            new_ids,
            template_id,
        )
    finally:
        await conn.close()


async def _page(client: Client, path: str) -> tuple[int, str | None]:
    status, data = await client.request("GET", path)
    if status != 200:
        raise ApiError(f"GET {path} -> HTTP {status}: {data[:300]!r}")
    body = orjson.loads(data)
    return len(body["conversations"]), body["meta"].get("nextToken")


async def _token_at(client: Client, depth: int) -> tuple[str, int]:
    """The token of the page that starts ``depth`` rows into the list, and the depth reached."""
    seen = 0
    path = f"{LIST}?PageSize={WALK_PAGE_SIZE}"
    while True:
        count, token = await _page(client, path)
        seen += count
        if token is None:
            raise ApiError(f"the list ended after {seen} rows, short of depth {depth}")
        if seen >= depth:
            return token, seen
        size = min(WALK_PAGE_SIZE, depth - seen)
        path = f"{LIST}?PageSize={size}&PageToken={token}"


def _always(request: Request) -> Callable[[], Request]:
    return lambda: request


async def pages_phase(
    ctx: RunContext,
    running: Running,
    result: dict[str, Any],
    meter: Callable[[], CpuMeter],
    pool: Callable[[int], ClientPool],
    log: Callable[[str], None],
) -> None:
    args = ctx.args
    if running.database_url is None:
        return  # only Orchestrion keeps a list to page through
    p = pool(1)
    try:
        t0 = time.perf_counter()
        config_id = await create_configuration(p.clients[0], args.setup_timeout_s, displayName="bench pages")
        status, data = await p.clients[0].request("POST", LIST, orjson.dumps({"configurationId": config_id}))
        if status != 201:
            raise ApiError(f"POST {LIST} -> HTTP {status}: {data[:300]!r}")
        await _seed(running.database_url, orjson.loads(data)["id"], args.page_depth + args.page_size)
        seeded_s = time.perf_counter() - t0
        token, depth = await _token_at(p.clients[0], args.page_depth)
    finally:
        await p.aclose()
    log(f"{running.label}: pages: {args.page_depth + args.page_size} rows seeded in {seeded_s:.1f}s, depth {depth}")
    pages: dict[str, Request] = {
        "first": ("GET", f"{LIST}?PageSize={args.page_size}", None),
        "deep": ("GET", f"{LIST}?PageSize={args.page_size}&PageToken={token}", None),
    }
    out: dict[str, Any] = {"depth": depth, "page_size": args.page_size}
    for name, request in pages.items():
        p = pool(args.concurrency)
        try:
            stats = await closed_loop(p.clients, args.duration_s, _always(request), None, meter, args.grace_s)
        finally:
            await p.aclose()
        out[name] = stats.report()
        log(f"{running.label}: pages {name}: {stats.ok} ok in {stats.elapsed_s:.1f}s, errors {dict(stats.errors)}")
    first, deep = out["first"].get("rps"), out["deep"].get("rps")
    out["deep_over_first"] = deep / first if first and deep else None
    result["pages"] = out
