"""What the chaos cases share: a client load that retries as a careful client does, the final count, the services.

``Load`` runs client threads that create Actions, each with its own
Idempotency-Key, retrying the same key on a network error, a 503 or a 429
until they get an answer: exactly what a client of a messaging API should do.
It records every status it saw. ``count`` then reads the database: every
accepted Action must exist and end, none may exist twice, and no message may
be sent or recorded twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from orchestrion.store.database import Database
from tests.conftest import IN_CI, free_port

ACTION_BODY: dict[str, Any] = {
    "type": "SEND_MESSAGE",
    "payload": {
        "from": {"address": "+15005550006", "channel": "SMS"},
        "to": [{"address": "+14155550100", "channel": "SMS"}],
        "content": {"text": "chaos"},
    },
}
MEMORY_STORE_ID = "mem_store_01jq7z8k9m0n1p2q3r4s5t6v7w"


def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of ``sql`` on the database (a fresh connection each time: the server may have restarted)."""

    async def run() -> list[Any]:
        database = Database(database_url)
        try:
            async with database.connect() as conn:
                return list(await conn.execute(sa.text(sql), params))
        finally:
            await database.dispose()

    return asyncio.run(run())


def wait_until(probe: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout_s`` (a bound, not a timing claim)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s}s")
        time.sleep(0.2)


def setup_conversations(url: str, auth: tuple[str, str], count: int, **configuration: Any) -> list[str]:
    """A configuration (created through the API, as a user does) and ``count`` conversations of it."""
    with httpx.Client(base_url=url, auth=auth, timeout=30) as http:
        accepted = http.post(
            "/v2/ControlPlane/Configurations",
            json={
                "displayName": f"chaos {uuid.uuid4().hex[:8]}",
                "description": "chaos",
                "conversationGroupingType": "GROUP_BY_PARTICIPANT_ADDRESSES",
                "memoryStoreId": MEMORY_STORE_ID,
                **configuration,
            },
        )
        assert accepted.status_code == 202, accepted.text
        wait_until(lambda: http.get(accepted.json()["statusUrl"]).json()["status"] == "COMPLETED", "the configuration")
        configuration_id = accepted.json()["related"]["configurationId"]
        created = [http.post("/v2/Conversations", json={"configurationId": configuration_id}) for _ in range(count)]
    assert {c.status_code for c in created} == {201}
    return [c.json()["id"] for c in created]


@dataclass
class Load:
    """Client threads creating Actions with Idempotency-Keys, retrying a key until it gets an answer."""

    urls: list[str]  # API processes; a client moves to the next one on a network error
    auth: tuple[str, str]
    conversations: list[str]
    threads: int = 4
    # 0: round-robin over ``conversations`` without end. Otherwise no conversation gets more keys
    # than this (a load kept under a per-conversation limit however fast the server is): when all
    # are spent, the client opens a new conversation of the same configuration and adds it.
    per_conversation: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # key -> action id
    statuses: Counter[int] = field(default_factory=Counter)  # every answer seen, by status
    network_errors: int = 0
    bad_5xx: list[str] = field(default_factory=list)  # a 5xx that is not a well-formed 503
    unexpected: list[str] = field(default_factory=list)  # a 4xx other than 429: the key is given up
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)
    _sent: int = 0
    _keys: Counter[str] = field(default_factory=Counter)  # conversation -> keys started on it
    _configuration_id: str = ""

    def start(self) -> Load:
        for n in range(self.threads):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client thread did not finish"

    def wait_accepted(self, more_than: int, timeout_s: float = 60) -> None:
        wait_until(lambda: len(self.accepted) > more_than, f"more than {more_than} accepted actions", timeout_s)

    def _client(self, n: int) -> None:
        target = n % len(self.urls)
        with httpx.Client(auth=self.auth, timeout=10) as http:
            while not self._stop.is_set():
                conversation = self._next_conversation(http, target)
                key = str(uuid.uuid4())
                while True:  # this key until it is answered, even after the load is told to stop
                    try:
                        response = http.post(
                            f"{self.urls[target]}/v2/Conversations/{conversation}/Actions",
                            json=ACTION_BODY,
                            headers={"Idempotency-Key": key},
                        )
                    except httpx.TransportError:
                        with self._lock:
                            self.network_errors += 1
                        target = (target + 1) % len(self.urls)
                        time.sleep(0.1)
                        continue
                    self._record(response)
                    if response.status_code >= 500:  # recorded; a careful client tries its key again
                        time.sleep(0.1)
                        continue
                    if response.status_code == 202:
                        action_id = response.json()["id"]
                        with self._lock:
                            self.accepted[key] = action_id
                        self._poll(http, target, conversation, action_id)
                        break
                    if response.status_code != 429:
                        with self._lock:
                            self.unexpected.append(f"{response.status_code} {response.text[:300]}")
                        break
                    time.sleep(0.1)

    def _next_conversation(self, http: httpx.Client, target: int) -> str:
        with self._lock:
            self._sent += 1
            if not self.per_conversation:
                return self.conversations[self._sent % len(self.conversations)]
            start = self._sent % len(self.conversations)
            for conversation in self.conversations[start:] + self.conversations[:start]:
                if self._keys[conversation] < self.per_conversation:
                    self._keys[conversation] += 1
                    return conversation
        opened = self._open_conversation(http, target)
        with self._lock:
            self.conversations.append(opened)
            self._keys[opened] += 1
        return opened

    def _open_conversation(self, http: httpx.Client, target: int) -> str:
        """A new conversation of the load's configuration (learnt from its first conversation)."""
        base = self.urls[target]
        if not self._configuration_id:
            found = http.get(f"{base}/v2/Conversations/{self.conversations[0]}")
            assert found.status_code == 200, found.text
            self._configuration_id = found.json()["configurationId"]
        created = http.post(f"{base}/v2/Conversations", json={"configurationId": self._configuration_id})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def _poll(self, http: httpx.Client, target: int, conversation: str, action_id: str) -> None:
        """Read the Action back once, as a client polling its status does (the hot read path)."""
        with contextlib.suppress(httpx.TransportError):
            self._record(http.get(f"{self.urls[target]}/v2/Conversations/{conversation}/Actions/{action_id}"))

    def _record(self, response: httpx.Response) -> None:
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500 and not _good_503(response):
                self.bad_5xx.append(f"{response.status_code} {response.headers} {response.text[:300]}")


def _good_503(response: httpx.Response) -> bool:
    if response.status_code != 503 or "Retry-After" not in response.headers:
        return False
    body = response.json()
    return bool(body.get("code") == 20503 and body.get("status") == 503 and body.get("message"))


@dataclass(frozen=True)
class Outcome:
    accepted: int
    completed: int
    failed: int
    lost: int
    duplicated: int

    def line(self, **extra: object) -> str:
        figures = {**self.__dict__, **extra}
        return " ".join(f"{name}={value}" for name, value in figures.items())


def count(database_url: str, accepted: dict[str, str], conversations: list[str], timeout_s: float = 120) -> Outcome:
    """Wait until every accepted Action has ended (bounded), then count what the database holds."""
    ids = set(accepted.values())
    marks = ", ".join(f"'{c}'" for c in conversations)

    def ended() -> list[Any] | None:
        rows = query(database_url, f"SELECT id, status FROM actions WHERE conversation_id IN ({marks})")
        pending = [r for r in rows if r.id in ids and r.status == "PENDING"]
        return None if pending else rows

    try:
        rows = wait_until(ended, "every accepted action to end", timeout_s)
    except AssertionError:
        rows = query(database_url, f"SELECT id, status FROM actions WHERE conversation_id IN ({marks})")
    status = {r.id: r.status for r in rows}
    lost = sum(1 for action_id in ids if status.get(action_id) not in ("COMPLETED", "FAILED"))
    twice = query(
        database_url,
        f"SELECT (SELECT count(*) FROM actions WHERE conversation_id IN ({marks})) - :unique"
        " + (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM communications"
        f"  WHERE conversation_id IN ({marks}) GROUP BY resource_id) c)"
        " + (SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM sandbox_messages"
        f"  WHERE conversation_id IN ({marks}) GROUP BY idempotency_key) s)",
        unique=len(ids),
    )[0][0]
    return Outcome(
        accepted=len(ids),
        completed=sum(1 for s in status.values() if s == "COMPLETED"),
        failed=sum(1 for s in status.values() if s == "FAILED"),
        lost=lost,
        duplicated=int(twice),
    )


def missing(what: str) -> None:
    """A tool this case needs is not on the machine: fail in CI, skip elsewhere."""
    import pytest

    if IN_CI:
        pytest.fail(f"{what}; CI must run the chaos tier", pytrace=False)
    pytest.skip(what)


# --- Services of the cases' own, on free ports: never the machine's shared ones.


class PostgresCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) in a temporary directory."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            missing("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql")
        self.bin = Path(found[-1]).parent
        self.home = Path(tempfile.mkdtemp(prefix="orchestrion-chaos-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        # initdb refuses to run as root: run the cluster as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.home, "postgres", "postgres")

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> PostgresCluster:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        log = str(self.home / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        query(self.url(), "SELECT 1")  # up
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(self.url(), timeout=10)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


class RedisServer:
    """A redis-server of the case's own, on a free port, that keeps nothing on disk."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            missing("redis-server not found")
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self._proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import socket

        def listening() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
            return False

        wait_until(listening, "redis-server to listen", 30)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=30)
            self._proc = None
