"""Shared fixtures: databases (SQLite file, real PostgreSQL), a live server, SDK clients.

PostgreSQL tests skip with a clear message when no server is reachable,
except in CI (CI=true), where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from orchestrion.cli import KEEP_ALIVE_S
from orchestrion.services import accounts
from orchestrion.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get("ORCHESTRION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SECRET_KEY = "test-secret-key-not-for-production"
REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_API_CONNECTIONS = 4
TEST_WORKER_CONCURRENCY = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_database() -> Iterator[str]:
    name = f"orch_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as error:  # noqa: BLE001 - any connection failure means "no PostgreSQL here"
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({type(error).__name__}: {error})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(f"{message}; set ORCHESTRION_TEST_POSTGRES_URL to run the PostgreSQL tests")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database of each backend, shared by the session."""
    from orchestrion.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'orchestrion.db'}"
        upgrade(url)
        yield url
        return
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def private_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of each backend that no server of the session touches."""
    from orchestrion.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('private') / 'orchestrion.db'}"
        upgrade(url)
        yield url
        return
    for url in postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from orchestrion.store.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'orchestrion.db'}"
    upgrade(url)
    return url


def test_settings(database_url: str, **overrides: object) -> Settings:
    base = Settings(
        database_url=database_url,
        secret_key=SECRET_KEY,
        sandbox_step_ms=10,
        log_level="warning",
        job_lease_ms=5_000,
        # Fixtures' callbacks point at example.com: keep what the suite sends there short and few.
        webhook_timeout_s=2.0,
        webhook_max_attempts=3,
        # Small PostgreSQL pools (4 + 4 + 1 instead of 10 + 16 + 1): the suite runs in parallel
        # processes (scripts/test), each with its own servers, under the server's max_connections.
        db_api_connections=TEST_API_CONNECTIONS,
        worker_concurrency=TEST_WORKER_CONCURRENCY,
    )
    return base.with_overrides(**overrides)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class LiveServer:
    """A real uvicorn server on loopback, in a thread of the test process."""

    settings: Settings
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    runtime: object = field(default=None, repr=False)
    app: object = field(default=None, repr=False)  # the ASGI app served
    tracer: Any = field(default=None, repr=False)  # a services.tracing.Tracer to use instead of the settings'

    def start(self, run_worker: bool = True, port: int | None = None) -> LiveServer:
        """``port``: one chosen beforehand (a server that must know its own URL, ORCHESTRION_PUBLIC_URL)."""
        from orchestrion.runtime import Runtime

        port = port or free_port()
        runtime = Runtime.build(self.settings, tracer=self.tracer)
        self.runtime = runtime
        self.app = runtime.app(run_worker=run_worker)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_S,  # as `orchestrion serve`
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(test_settings(database_url)).start()
    yield live
    live.stop()


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str = field(repr=False)


def new_account(database_url: str) -> Credentials:
    """A fresh account in the server's database: every test gets a clean tenant."""
    from orchestrion.runtime import Runtime

    async def make() -> Credentials:
        runtime = Runtime.build(test_settings(database_url))
        try:
            creds = await accounts.create_account(runtime.ctx)
        finally:
            await runtime.ctx.store.close()
        return Credentials(creds.sid, creds.secret)

    return asyncio.run(make())


def new_api_key(database_url: str, creds: Credentials) -> Credentials:
    """An API key (SID and secret) of the account, as Twilio Agent Connect authenticates."""
    from orchestrion.runtime import Runtime

    async def make() -> Credentials:
        runtime = Runtime.build(test_settings(database_url))
        try:
            key = await accounts.create_api_key(runtime.ctx, creds.account_sid)
        finally:
            await runtime.ctx.store.close()
        return Credentials(key.sid, key.secret)

    return asyncio.run(make())


@pytest.fixture
def account(database_url: str) -> Credentials:
    return new_account(database_url)


@pytest.fixture
def other_account(database_url: str) -> Credentials:
    return new_account(database_url)


def checking_http_client(check: Callable[[str, str, int, str], None]) -> Any:
    """twilio-python's HTTP client, with ``check(method, url, status, text)`` called on every answer."""
    from twilio.http.http_client import TwilioHttpClient

    class CheckingHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            response = super().request(method, url, *args, **kwargs)
            check(method, url, response.status_code, response.text)
            return response

    return CheckingHttpClient(timeout=15)


def sdk_client(server: LiveServer, creds: Credentials) -> object:
    """twilio-python exactly as an application uses it, with every response contract-checked."""
    from twilio.rest import Client

    client = Client(creds.account_sid, creds.auth_token, http_client=checking_http_client(check_contract))
    client.conversations.base_url = server.url
    return client


@pytest.fixture
def client(server: LiveServer, account: Credentials) -> object:
    """The official twilio-python SDK, pointed at the live server."""
    return sdk_client(server, account)


@pytest.fixture
def other_client(server: LiveServer, other_account: Credentials) -> object:
    return sdk_client(server, other_account)


@pytest.fixture
def http(server: LiveServer, account: Credentials) -> Iterator[object]:
    """A plain httpx client with the account's credentials, for what the SDK cannot send."""
    import httpx

    def check(response: httpx.Response) -> None:
        response.read()
        check_contract(response.request.method, str(response.request.url), response.status_code, response.text)

    with httpx.Client(
        base_url=server.url,
        auth=(account.account_sid, account.auth_token),
        timeout=10,
        event_hooks={"response": [check]},
    ) as c:
        yield c


# --- Response contract: every SDK and httpx response of the suite is checked
# against the reference OpenAPI document (when ../shared is present).


# Statuses Orchestrion answers that the reference leaves out (docs/deviations.md, "Error codes"):
# every operation may answer them, with the Twilio error body.
UNDOCUMENTED_ERRORS = ("400", "401", "405", "413", "422")
# Operations that also answer 409 (a CLOSED conversation takes no new participants, communications or actions).
CONFLICTS = [
    ("post", "/v2/Conversations/{ConversationId}/Actions"),
    ("post", "/v2/Conversations/{ConversationId}/Communications"),
    ("put", "/v2/Conversations/{ConversationId}/Participants/{id}"),
    ("put", "/v2/Conversations/{id}"),
    ("patch", "/v2/Conversations/{id}"),
]


def reference_with_deviations() -> dict[str, Any] | None:
    """The reference document, amended where Orchestrion deviates on purpose (docs/deviations.md); None without it."""
    import json

    from tests.contract import SPEC_PATH

    if not SPEC_PATH.exists():
        return None
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())

    # Deviation: operations report RUNNING between PENDING and COMPLETED.
    spec["components"]["schemas"]["conversations.v2.operation_status_value"]["enum"] = [
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
    ]
    # Deviation: error statuses the document does not list, each with the Twilio error body.
    error = spec["paths"]["/v2/Conversations"]["post"]["responses"]["400"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            extra = list(UNDOCUMENTED_ERRORS) + (["409"] if (method, path) in CONFLICTS else [])
            for status in extra:
                operation["responses"].setdefault(status, error)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    # Decision: a query parameter given empty (``?pageSize=``) means it is absent.
                    parameter["schema"] = {"anyOf": [parameter["schema"], {"type": "string", "maxLength": 0}]}
    # Decision: an empty Idempotency-Key means no key (twilio-python sends one when none is given).
    key = spec["components"]["parameters"]["IdempotencyKeyHeader"]["schema"]
    key["pattern"] = "^(|" + key["pattern"].removeprefix("^").removesuffix("$") + ")$"
    # Deviation: DELETE of a participant (not in the document): 204, 404, or 409 for a CLOSED conversation.
    participant = spec["paths"]["/v2/Conversations/{ConversationId}/Participants/{id}"]
    participant["delete"] = {
        "operationId": "DeleteParticipant",
        "responses": {"204": {"description": "Removed"}, **{s: error for s in ("404", "409", *UNDOCUMENTED_ERRORS)}},
    }
    return spec


def _spec_with_deviations() -> object:
    from tests.contract import ContractChecker

    spec = reference_with_deviations()
    return None if spec is None else ContractChecker(spec)


_CHECKER: object = None
_CHECKER_LOADED = False


def contract_checker() -> object:
    global _CHECKER, _CHECKER_LOADED
    if not _CHECKER_LOADED:
        _CHECKER = _spec_with_deviations()
        _CHECKER_LOADED = True
    return _CHECKER


def reference_missing() -> str | None:
    """Why the reference OpenAPI document cannot be used, or None when it is there."""
    from tests.contract import SPEC_MISSING_REASON, SPEC_PATH

    return None if SPEC_PATH.is_file() else SPEC_MISSING_REASON


def require_reference() -> None:
    """Skip the test without the reference document; in CI (CI=true), fail it instead."""
    reason = reference_missing()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"{reason}; CI must check against it", pytrace=False)
    pytest.skip(reason)


def check_contract(method: str, url: str, status: int, text: str) -> None:
    import json
    from urllib.parse import urlsplit

    checker = contract_checker()
    if checker is None:
        # Without the document the check is off (said once, in the report header); never in CI.
        if IN_CI:
            pytest.fail(f"{reference_missing()}; CI must check every response against it", pytrace=False)
        return
    path = urlsplit(url).path
    if not path.startswith("/v2/"):
        return
    body = json.loads(text) if text else None
    checker.check(method, path, status, body)  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str:
    reason = reference_missing()
    if reason is None:
        return "contract checks: on (every /v2 response is checked against the reference OpenAPI document)"
    return f"contract checks: OFF: {reason}" + (" (a failure under CI=true)" if IN_CI else "")


def pytest_configure(config: pytest.Config) -> None:
    # The test session is an entry point too: quiet logs unless a test asks.
    from orchestrion import logs

    logs.configure("warning")
