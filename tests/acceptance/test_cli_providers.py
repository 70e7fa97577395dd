"""``orchestrion providers set | show | remove``: one account's providers from the command line."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.test_cli import _run

PUBLIC = {"ORCHESTRION_PUBLIC_URL": "https://orchestrion.example.com"}
TWILIO_SID = "AC" + "1" * 32
API_KEY = "SK" + "2" * 32


@pytest.fixture
def account_sid(tmp_path: Path) -> str:
    created = _run(tmp_path, "accounts", "create", "--json")
    assert created.returncode == 0, created.stderr
    return str(json.loads(created.stdout)["accountSid"])


def _set_twilio(
    tmp_path: Path, account_sid: str, *extra: str, env: dict[str, str] = PUBLIC
) -> subprocess.CompletedProcess[str]:
    args = ["providers", "set", account_sid, "twilio", "--twilio-account-sid", TWILIO_SID, *extra, "--json"]
    return _run(tmp_path, *args, **env)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orchestrion: "), result.stderr
    return lines[0]


def test_set_show_remove_a_twilio_provider_with_the_secret_masked(tmp_path: Path, account_sid: str) -> None:
    secret = secrets.token_hex(16)
    put = _set_twilio(tmp_path, account_sid, "--api-key", API_KEY, "--api-secret", secret, "--channels", "sms,whatsapp")
    assert put.returncode == 0, put.stderr
    assert secret not in put.stdout
    shown = _run(tmp_path, "providers", "show", account_sid, "--json")
    assert shown.returncode == 0 and secret not in shown.stdout
    [config] = json.loads(shown.stdout)
    assert config == {
        "provider": "twilio",
        "channels": ["sms", "whatsapp"],
        "options": {"accountSid": TWILIO_SID, "apiKey": API_KEY},
        "secrets": {"apiSecret": "****" + secret[-4:]},
    }
    removed = _run(tmp_path, "providers", "remove", account_sid, "twilio")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(_run(tmp_path, "providers", "show", account_sid, "--json").stdout) == []


def test_a_secret_given_as_dash_is_read_from_stdin(tmp_path: Path, account_sid: str) -> None:
    from tests.acceptance.test_cli import ORCHESTRION, _env

    token = secrets.token_hex(16)
    args = [ORCHESTRION, "providers", "set", account_sid, "twilio", "--twilio-account-sid", TWILIO_SID]
    result = subprocess.run(
        [*args, "--auth-token", "-", "--channels", "sms"],
        env=_env(tmp_path, **PUBLIC),
        input=token + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout and "****" + token[-4:] in result.stdout


def test_twilio_is_refused_without_the_public_url_in_one_line(tmp_path: Path, account_sid: str) -> None:
    result = _set_twilio(tmp_path, account_sid, "--auth-token", "t" * 32, "--channels", "sms", env={})
    assert result.returncode == 1
    assert "ORCHESTRION_PUBLIC_URL" in _one_line(result)


def test_a_webhook_provider_gets_a_signing_secret_shown_once(tmp_path: Path, account_sid: str) -> None:
    args = ["providers", "set", account_sid, "webhook", "--url", "https://gw.example.com/send", "--channels", "rcs"]
    result = _run(tmp_path, *args, "--json", **PUBLIC)
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)["signingSecret"]
    assert len(made) == 64 and made not in _run(tmp_path, "providers", "show", account_sid).stdout


def test_a_channel_served_by_another_provider_is_refused(tmp_path: Path, account_sid: str) -> None:
    assert _set_twilio(tmp_path, account_sid, "--auth-token", "t" * 32, "--channels", "sms").returncode == 0
    args = ["providers", "set", account_sid, "webhook", "--url", "https://gw.example.com/", "--channels", "SMS"]
    result = _run(tmp_path, *args, **PUBLIC)
    assert result.returncode == 1 and "twilio already serves sms" in _one_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ["--channels", "fax"],
        ["--channels", "sms"],  # neither a key nor a token
        ["--api-key", API_KEY, "--channels", "sms"],  # a key without its secret
    ],
    ids=["unknown channel", "no credentials", "key without secret"],
)
def test_a_usage_error_is_one_line_and_exit_status_2(tmp_path: Path, account_sid: str, args: list[str]) -> None:
    result = _set_twilio(tmp_path, account_sid, *args)
    assert result.returncode == 2
    _one_line(result)


def test_unknown_account_provider_or_removal_is_a_one_line_failure(tmp_path: Path, account_sid: str) -> None:
    for args in (
        ["providers", "show", "AC" + "0" * 32],
        ["providers", "remove", account_sid, "twilio"],
        ["providers", "set", account_sid, "vonage", "--channels", "sms"],
    ):
        result = _run(tmp_path, *args, **PUBLIC)
        assert result.returncode == 1, args
        _one_line(result)
