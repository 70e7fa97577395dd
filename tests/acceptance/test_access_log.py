"""The access log of a real ``orchestrion serve``: one JSON line per request, matching its X-Request-Id."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.test_cli import ORCHESTRION, _env
from tests.conftest import free_port

SID, TOKEN = "AC" + "5" * 32, "access-log-token-0123456789abcdef"


def _serve_and_call(
    tmp_path: Path, calls: list[tuple[str, str, Any]], request_ids: list[str | None] | None = None
) -> tuple[list[httpx.Response], str]:
    port = free_port()
    env = _env(
        tmp_path,
        ORCHESTRION_LOG_LEVEL="info",
        ORCHESTRION_LOG_FORMAT="json",
        ORCHESTRION_ACCOUNT_SID=SID,
        ORCHESTRION_AUTH_TOKEN=TOKEN,
    )
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([ORCHESTRION, "serve", "--port", str(port)], env=env, stderr=errors)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                    time.sleep(0.1)
            ids = request_ids or [None] * len(calls)
            answers = [
                httpx.request(method, url + path, auth=auth, headers={"X-Request-Id": rid} if rid else {}, timeout=10)
                for (method, path, auth), rid in zip(calls, ids, strict=True)
            ]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        errors.seek(0)
        return answers, errors.read().decode()


def _lines(log: str) -> dict[str, dict[str, Any]]:
    """The access lines, by request id."""
    found = {}
    for raw in log.splitlines():
        if raw.startswith("{") and (line := json.loads(raw)).get("event") == "request":
            found[line["request_id"]] = line
    return found


def test_every_request_has_one_access_line_with_its_request_id_and_no_credentials(tmp_path: Path) -> None:
    answers, log = _serve_and_call(
        tmp_path,
        [
            ("GET", "/v2/Conversations", (SID, TOKEN)),
            ("GET", "/v2/Conversations/conv_conversation_" + "0" * 26, (SID, TOKEN)),
            (
                "GET",
                "/v2/Conversations/conv_conversation_" + "0" * 26 + "/Actions/conv_action_" + "0" * 26,
                (SID, TOKEN),
            ),
            ("POST", "/v2/Conversations", (SID, TOKEN)),
            ("GET", "/v2/Conversations", (SID, "wrong-token")),
        ],
    )
    lines = _lines(log)
    expected = [
        ("GET", "/v2/Conversations", 200, SID),
        ("GET", "/v2/Conversations/{id}", 404, SID),
        ("GET", "/v2/Conversations/{ConversationId}/Actions/{ActionId}", 404, SID),  # the status lane's answer
        ("POST", "/v2/Conversations", 400, SID),
        ("GET", None, 401, None),
    ]
    for answer, (method, route, status, account) in zip(answers, expected, strict=True):
        assert answer.status_code == status
        line = lines[answer.headers["x-request-id"]]
        assert (line["method"], line["route"], line["status"], line["account_sid"]) == (method, route, status, account)
        assert line["level"] == "info" and line["duration_ms"] >= 0
    assert TOKEN not in log and "wrong-token" not in log and "Basic " not in log


def test_a_plain_client_request_id_is_kept_and_anything_else_replaced(tmp_path: Path) -> None:
    calls = [("GET", "/healthz", None)] * 3
    answers, log = _serve_and_call(tmp_path, calls, request_ids=["trace-42.a", "x" * 65, None])
    assert answers[0].headers["x-request-id"] == "trace-42.a"
    for replaced in answers[1:]:
        assert replaced.headers["x-request-id"].startswith("RQ") and len(replaced.headers["x-request-id"]) == 34
    assert {a.headers["x-request-id"] for a in answers} <= set(_lines(log))
