"""A webhook receiver that answers 500, then too slowly, then is down for 30 s: every event arrives once it is back.

One ``orchestrion serve`` per backend (SQLite and PostgreSQL side by side,
sharing the receiver's timeline, so the 30 s outage is paid once). Each
conversation announces its creation and three renames, one in each phase of
the receiver's trouble. Once the receiver is back, every event is delivered
exactly once, in order within its conversation, and all the attempts at one
event carry its one I-Twilio-Idempotency-Token.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrion.store.migrate import upgrade
from tests.acceptance.processes import Processes
from tests.acceptance.webhook_receiver import Received, Receiver
from tests.chaos.support import setup_conversations, wait_until
from tests.conftest import free_port, new_account, postgres_database

pytestmark = pytest.mark.slow

CONVERSATIONS = 8
RENAMES = ("first", "second", "third")
DOWN_S = 30.0
SLOW_S = 3.0  # beyond the server's 1 s webhook timeout: the sender gives up and tries again
SERVER = {
    "ORCHESTRION_WEBHOOK_TIMEOUT_S": "1",
    "ORCHESTRION_WEBHOOK_MAX_ATTEMPTS": "200",
    "ORCHESTRION_RETRY_MAX_DELAY_S": "2",
}


@dataclass
class Timeline:
    """The receiver's trouble, phase by phase, and what it answered to whom."""

    phase: str = "failing"  # failing (500) -> slow (answers too late) -> ok
    answered: list[tuple[Received, int, str]] = field(default_factory=list)  # request, status, phase
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> int:
        phase = self.phase
        status = 500 if phase == "failing" else 204
        if phase == "slow":
            time.sleep(SLOW_S)
        with self.lock:
            self.answered.append((request, status, phase))
        return status

    def seen(self, path: str, phase: str) -> int:
        with self.lock:
            return sum(1 for r, _, p in self.answered if r.path == path and p == phase)

    def delivered(self, path: str) -> list[Received]:
        """Requests answered 2xx in time, in the order they arrived."""
        with self.lock:
            return [r for r, _, p in self.answered if r.path == path and p == "ok"]


@dataclass
class Backend:
    name: str
    url: str
    api: str = ""
    auth: tuple[str, str] = ("", "")
    conversations: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/hooks/{self.name}"

    def rename(self, name: str) -> None:
        with httpx.Client(base_url=self.api, auth=self.auth, timeout=30) as http:
            for conversation_id in self.conversations:
                assert http.patch(f"/v2/Conversations/{conversation_id}", json={"name": name}).status_code == 200


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[list[Backend]]:
    sqlite = f"sqlite:///{tmp_path / 'webhooks.db'}"
    upgrade(sqlite)
    for postgres in postgres_database():
        upgrade(postgres)
        yield [Backend("sqlite", sqlite), Backend("postgresql", postgres)]


def _figures(timeline: Timeline, backend: Backend) -> dict[str, Any]:
    expected = {
        c: [("CONVERSATION_CREATED", None)] + [("CONVERSATION_UPDATED", n) for n in RENAMES]
        for c in backend.conversations
    }
    delivered = timeline.delivered(backend.path)
    tokens_per_event: dict[str, set[str]] = defaultdict(set)
    with timeline.lock:
        for request, _, _ in timeline.answered:
            if request.path == backend.path:
                tokens_per_event[request.body].add(request.token)
    arrived: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    first_time: set[str] = set()
    duplicates = 0
    for request in delivered:
        if request.token in first_time:
            duplicates += 1
            continue
        first_time.add(request.token)
        arrived[request.data["id"]].append((request.event_type, request.data.get("name")))
    return {
        "expected": sum(len(events) for events in expected.values()),
        "delivered": len(first_time),
        "duplicates": duplicates,
        "out_of_order": sum(1 for c, events in expected.items() if arrived[c] != events),
        "tokens_per_event_max": max(len(t) for t in tokens_per_event.values()),
        "requests": sum(1 for r, _, _ in timeline.answered if r.path == backend.path),
    }


def test_a_failing_slow_then_absent_receiver_gets_every_event_once_in_order(
    backends: list[Backend], chaos_processes: Callable[[str], Processes], figures: Callable[[str], None]
) -> None:
    timeline = Timeline()
    port = free_port()
    receiver = Receiver(answer=timeline.answer, port=port)
    try:
        for backend in backends:
            backend.api = chaos_processes(backend.url).serve_process(**SERVER)[1]
            creds = new_account(backend.url)
            backend.auth = (creds.account_sid, creds.auth_token)
            callbacks = [{"url": receiver.url(backend.path), "method": "POST"}]
            backend.conversations = setup_conversations(
                backend.api, backend.auth, CONVERSATIONS, statusCallbacks=callbacks
            )
        for backend in backends:  # every conversation's first event was refused (500) at least once
            wait_until(lambda b=backend: timeline.seen(b.path, "failing") >= CONVERSATIONS, "500s to be answered")
            backend.rename(RENAMES[0])
        timeline.phase = "slow"
        for backend in backends:
            wait_until(lambda b=backend: timeline.seen(b.path, "slow") >= 2, "slow answers")
            backend.rename(RENAMES[1])
        receiver.close()  # down
        time.sleep(DOWN_S)
        timeline.phase = "ok"
        receiver = Receiver(answer=timeline.answer, port=port)
        for backend in backends:
            backend.rename(RENAMES[2])
        for backend in backends:
            wanted = CONVERSATIONS * (1 + len(RENAMES))
            wait_until(lambda b=backend, w=wanted: _figures(timeline, b)["delivered"] >= w, "every event", 120)
    finally:
        receiver.close()

    results = {backend.name: _figures(timeline, backend) for backend in backends}
    for name, result in results.items():
        figures(f"{name}: " + " ".join(f"{k}={v}" for k, v in result.items()))
    for result in results.values():
        assert result["delivered"] == result["expected"] == CONVERSATIONS * (1 + len(RENAMES))
        assert (result["duplicates"], result["out_of_order"], result["tokens_per_event_max"]) == (0, 0, 1)
        assert result["requests"] > result["delivered"]  # the trouble did make the sender try again
