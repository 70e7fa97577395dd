"""The command line: serve, migrate, accounts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SECRET_KEY, free_port, postgres_database

ORCHESTRION = str(Path(sys.executable).parent / "orchestrion")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRION_")}
    env.update(
        ORCHESTRION_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}",
        ORCHESTRION_SECRET_KEY=SECRET_KEY,
        ORCHESTRION_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORCHESTRION, *args], env=_env(tmp_path, **extra), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    processes: list[subprocess.Popen[str]] = []

    def start(**extra: str) -> tuple[str, subprocess.Popen[str]]:
        port = free_port()
        proc = subprocess.Popen(
            [ORCHESTRION, "serve", "--port", str(port)],
            env=_env(tmp_path, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a full, unread pipe would block the server
            text=True,
        )
        processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return url, proc
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not become healthy")

    yield start
    for proc in processes:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)


def test_accounts_create_json_prints_only_credentials(tmp_path: Path) -> None:
    result = _run(tmp_path, "accounts", "create", "--json")
    data = json.loads(result.stdout)
    assert result.returncode == 0
    assert set(data) == {"accountSid", "authToken"}
    assert data["accountSid"].startswith("AC") and len(data["accountSid"]) == 34


def test_api_key_create_for_an_account_prints_sid_and_secret(tmp_path: Path) -> None:
    account = json.loads(_run(tmp_path, "accounts", "create", "--json").stdout)
    result = _run(tmp_path, "accounts", "keys", "create", account["accountSid"], "--json")
    key = json.loads(result.stdout)
    assert key["sid"].startswith("SK") and len(key["sid"]) == 34
    assert key["accountSid"] == account["accountSid"]


def test_migrate_succeeds_twice(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    assert _run(tmp_path, "migrate").returncode == 0


def test_invalid_setting_is_reported_without_traceback(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", ORCHESTRION_SANDBOX_STEP_MS="fast")
    assert result.returncode == 2
    assert "ORCHESTRION_SANDBOX_STEP_MS" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_account_from_environment_accepts_those_credentials(serve: object) -> None:
    sid, token = "AC" + "1" * 32, "2" * 32
    url, _ = serve(ORCHESTRION_ACCOUNT_SID=sid, ORCHESTRION_AUTH_TOKEN=token)  # type: ignore[operator]
    assert httpx.get(url + "/v2/Conversations", auth=(sid, token), timeout=5).status_code == 200


def test_serve_without_account_prints_new_credentials_once(serve: object) -> None:
    _, proc = serve()  # type: ignore[operator]
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    sid = out.split("TWILIO_ACCOUNT_SID=")[1].split()[0]
    token = out.split("TWILIO_AUTH_TOKEN=")[1].split()[0]
    url2, proc2 = serve()  # type: ignore[operator]
    assert httpx.get(url2 + "/v2/Conversations", auth=(sid, token), timeout=5).status_code == 200
    proc2.terminate()
    out2, _ = proc2.communicate(timeout=20)
    assert "TWILIO_AUTH_TOKEN" not in out2


@pytest.mark.slow
def test_serve_keeps_an_idle_connection_open_longer_than_clients_keep_theirs(serve: Any) -> None:
    """A client may reuse a connection idle for up to 5 s (httpx); the server must not be closing it then."""
    url, _ = serve()
    port = int(url.rsplit(":", 1)[1])
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        assert _response(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6)  # idle past the clients' reuse limit, and past uvicorn's default keep-alive of 5 s
        sock.sendall(request)
        assert _response(sock).startswith(b"HTTP/1.1 200")


def _response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body), however the server's writes were split."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection mid-body"
        body += chunk
    assert len(body) == length, "more than one response arrived"
    return head + b"\r\n\r\n" + body


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("orchestrion: ")
    return lines[0]


def test_an_api_key_for_an_unknown_account_is_a_one_line_failure(tmp_path: Path) -> None:
    result = _run(tmp_path, "accounts", "keys", "create", "ACnope")
    assert result.returncode == 1
    assert "ACnope" in _one_line_error(result)


@pytest.mark.parametrize("args", [["serve", "--port", "eighty"], ["frobnicate"], ["accounts"], ["worker", "--bogus"]])
def test_a_usage_error_is_one_line_and_exit_status_2(tmp_path: Path, args: list[str]) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 2
    _one_line_error(result)


def test_an_unreachable_database_is_a_one_line_failure(tmp_path: Path) -> None:
    result = _run(tmp_path, "migrate", "--database-url", f"postgresql://orch:secret-pw@127.0.0.1:{free_port()}/none")
    assert result.returncode == 1
    line = _one_line_error(result)
    assert "cannot migrate" in line and "secret-pw" not in line


def test_a_port_in_use_is_a_one_line_failure_and_starts_no_dispatcher(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(tmp_path, "serve", "--port", str(port), ORCHESTRION_LOG_LEVEL="info")
    assert result.returncode == 1
    assert "dispatcher_started" not in result.stderr and "listening" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in _one_line_error(result)


def test_listening_is_printed_once_the_port_takes_connections(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [ORCHESTRION, "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        for line in proc.stderr:
            seen.append(line)
            if "listening" in line:
                break
        assert any("listening" in line for line in seen), "".join(seen)
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # accepted: the port was bound before the line was printed
        startup = [next(proc.stderr) for _ in range(3)]
        assert startup[0].split() == ["database:", f"sqlite:///{tmp_path / 'cli.db'}"]
        assert startup[1].split() == ["secret", "key:", "from", "ORCHESTRION_SECRET_KEY"]
        assert startup[2].split()[:5] == ["dispatcher:", "sends", "16,", "webhooks", "16,"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_startup_lines_never_show_the_database_password(tmp_path: Path) -> None:
    for url in postgres_database():
        with_password = url.replace("postgresql://postgres@", "postgresql://postgres:secret-pw@")
        proc = subprocess.Popen(
            [ORCHESTRION, "serve", "--port", str(free_port()), "--no-worker"],
            env=_env(tmp_path, ORCHESTRION_DATABASE_URL=with_password),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stderr is not None
            lines = [next(proc.stderr) for _ in range(4)]
        finally:
            proc.terminate()
            rest = proc.communicate(timeout=30)[1]
        assert "secret-pw" not in "".join(lines) + rest
        assert lines[1].split() == ["database:", with_password.replace("secret-pw", "***")]
        assert lines[3].split() == ["dispatcher:", "off", "(run", "`orchestrion", "worker`)"]
