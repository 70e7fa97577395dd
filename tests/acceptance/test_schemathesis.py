"""Property-based runs (schemathesis, every check) against a real ``orchestrion serve``.

Two bounded runs: the reference document (amended where Orchestrion deviates
on purpose, ``reference_with_deviations``) against a server on PostgreSQL, and
the server's own ``/openapi.json`` against a server on SQLite. Each must send
at least 1,500 requests (3,000 together) and end with no failure: no answer of
500 or more, no response outside its schema, nothing else the checks flag.
What the checks would flag on purpose is configured below, each item a listed
deviation or decision of docs/deviations.md. Path parameters are real ids of
the account, so requests reach the handlers rather than stopping at 404.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.processes import Processes
from tests.acceptance.test_cross_account import Tenant, make_tenant
from tests.conftest import Credentials, postgres_database, reference_with_deviations, require_reference

pytestmark = pytest.mark.slow

ST = str(Path(sys.executable).parent / "st")
ACCOUNT = Credentials("AC" + "3" * 32, "schemathesis-token-0123456789abcd")
MIN_REQUESTS = 1_500
SEED = 20_261_203

# Answers that stay right for a request the documents call valid (docs/deviations.md, "Bad input"):
# 400 where Orchestrion validates more strictly than a schema says (memoryStoreId format, non-empty
# strings, per-channel address formats, callback URLs, page tokens it did not issue, SEND_MESSAGE only,
# inbound from/to), 409 for CLOSED conversations and configurations still in use.
POSITIVE_OK = ["2xx", "400", "401", "403", "404", "409", "422", "429"]
# A body over ORCHESTRION_MAX_BODY_BYTES is refused with 413 before it is read.
NEGATIVE_OK = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def _config(tenant: Tenant, path: Path) -> Path:
    per_id = {
        "/v2/ControlPlane/Configurations/{id}": tenant.configuration,
        "/v2/ControlPlane/Operations/{id}": tenant.operation,
        "/v2/Conversations/{id}": tenant.conversation,
        "/v2/Conversations/{ConversationId}/Participants/{id}": tenant.participant,
        "/v2/Conversations/{ConversationId}/Communications/{id}": tenant.communication,
    }
    lines = [
        f"seed = {SEED}",
        "workers = 1  # hypothesis is not thread-safe: with 2, its lambda-source cache raised inside schemathesis",
        "[generation]",
        "max-examples = 40",
        "allow-x00 = false  # NUL is refused in every body (docs/deviations.md)",
        "allow-extra-parameters = false  # unknown query parameters are ignored (docs/deviations.md)",
        "[warnings]",
        'fail-on = ["missing_auth"]',
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {json.dumps(POSITIVE_OK)}",
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(NEGATIVE_OK)}",
        "[parameters]",
        f'"path.ConversationId" = "{tenant.conversation}"',
        f'"path.ActionId" = "{tenant.action}"',
        f'"path.sid" = "{tenant.message_sid}"',
        f'"path.AccountSid" = "{tenant.creds.account_sid}"',
    ]
    for template, ident in per_id.items():
        lines += ["[[operations]]", f'include-path = "{template}"', f'parameters = {{ "path.id" = "{ident}" }}']
    # Twilio's webhooks and the providers' status reports need a signature nothing but the account's
    # token (or provider secret) can make: 403 is all they can get.
    lines += ["[[operations]]", 'include-path-regex = "^/(twilio|providers)/"', "warnings = false"]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(location: str, base_url: str, tenant: Tenant, workdir: Path) -> tuple[int, str]:
    """Run every check; the number of requests sent (from the HAR report) and the output."""
    har = workdir / "requests.har"
    command = [
        ST,
        "--config-file",
        str(_config(tenant, workdir / "schemathesis.toml")),
        "run",
        location,
        "--url",
        base_url,
        "--auth",
        f"{tenant.creds.account_sid}:{tenant.creds.auth_token}",
        "--checks",
        "all",
        "--report",
        "har",
        "--report-har-path",
        str(har),
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=workdir)
    output = result.stdout + result.stderr
    (workdir / "schemathesis.log").write_text(output)
    assert result.returncode == 0, output[-20_000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    server_errors = [e["request"]["url"] for e in entries if e["response"]["status"] >= 500]
    assert server_errors == [], f"answers of 500 or more: {server_errors[:10]}"
    return len(entries), output


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[str]:
    yield from _server(f"sqlite:///{tmp_path / 'schemathesis.db'}")


@pytest.fixture
def postgres_server() -> Iterator[str]:
    for url in postgres_database():
        yield from _server(url)


def _server(database_url: str) -> Iterator[str]:
    processes = Processes(database_url)
    env = {"ORCHESTRION_ACCOUNT_SID": ACCOUNT.account_sid, "ORCHESTRION_AUTH_TOKEN": ACCOUNT.auth_token}
    try:
        yield processes.serve(ORCHESTRION_SANDBOX_STEP_MS="0", **env)
    finally:
        processes.stop_all()


@pytest.fixture
def reference() -> Any:
    """The amended reference document (skipped without it; a failure in CI)."""
    require_reference()
    return reference_with_deviations()


def test_the_reference_document_finds_nothing(reference: Any, postgres_server: str, tmp_path: Path) -> None:
    spec = reference
    location = tmp_path / "reference.json"
    location.write_text(json.dumps(spec))
    tenant = make_tenant(postgres_server, ACCOUNT, None)
    requests, _ = run_schemathesis(str(location), postgres_server, tenant, tmp_path)
    assert requests >= MIN_REQUESTS


def test_the_servers_own_openapi_document_finds_nothing(sqlite_server: str, tmp_path: Path) -> None:
    tenant = make_tenant(sqlite_server, ACCOUNT, None)
    requests, _ = run_schemathesis(sqlite_server + "/openapi.json", sqlite_server, tenant, tmp_path)
    assert requests >= MIN_REQUESTS
