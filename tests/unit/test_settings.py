"""Settings from the environment: typed, validated, one error naming the variable, secrets kept out of repr."""

from __future__ import annotations

import pytest

from orchestrion.settings import Settings, SettingsError, redact_url

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


@pytest.mark.parametrize("raw", ["False", "false", "off", "OFF", "0", "no"])
def test_run_worker_off_spellings_mean_false(raw: str) -> None:
    assert Settings.from_env({"ORCHESTRION_RUN_WORKER": raw}).run_worker is False


@pytest.mark.parametrize("raw", ["True", "on", "1", "yes"])
def test_run_worker_on_spellings_mean_true(raw: str) -> None:
    assert Settings.from_env({"ORCHESTRION_RUN_WORKER": raw}).run_worker is True


def test_an_empty_variable_means_the_default() -> None:
    assert Settings.from_env({"ORCHESTRION_PORT": "", "ORCHESTRION_RUN_WORKER": ""}) == Settings()


def test_every_documented_variable_is_read_by_its_prefixed_name() -> None:
    settings = Settings.from_env(
        {
            "ORCHESTRION_MAX_BODY_BYTES": "4096",
            "ORCHESTRION_LOG_LEVEL": "DEBUG",
            "ORCHESTRION_LOG_FORMAT": "json",
            "ORCHESTRION_PORT": "9000",
            "ORCHESTRION_WORKER_CONCURRENCY": "4",
        }
    )
    assert (settings.max_body_bytes, settings.log_level, settings.log_format) == (4096, "debug", "json")
    assert (settings.port, settings.worker_concurrency) == (9000, 4)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("ORCHESTRION_PORT", "eighty"),
        ("ORCHESTRION_PORT", "70000"),
        ("ORCHESTRION_PORT", "-1"),
        ("ORCHESTRION_RUN_WORKER", "maybe"),
        ("ORCHESTRION_LOG_LEVEL", "loud"),
        ("ORCHESTRION_LOG_FORMAT", "xml"),
        ("ORCHESTRION_MAX_BODY_BYTES", "lots"),
        ("ORCHESTRION_MAX_BODY_BYTES", "10"),
        ("ORCHESTRION_WORKER_CONCURRENCY", "0"),
        ("ORCHESTRION_JOB_LEASE_MS", "5"),
        ("ORCHESTRION_DB_POOL_SIZE", "-1"),
        ("ORCHESTRION_DB_API_CONNECTIONS", "0"),
        ("ORCHESTRION_WORKER_CONCURRENCY_SENDS", "0"),
        ("ORCHESTRION_SHUTDOWN_GRACE_S", "-1"),
        ("ORCHESTRION_CONSOLE", "sometimes"),
        ("ORCHESTRION_SANDBOX_STEP_MS", "-5"),
        ("ORCHESTRION_RATE_LIMIT_RPS", "fast"),
        ("ORCHESTRION_RATE_LIMIT_BURST", "-1"),
        ("ORCHESTRION_RATE_LIMIT_CONCURRENCY", "1.5"),
        ("ORCHESTRION_ACTIONS_PER_CONVERSATION_PER_SECOND", "-1"),
        ("ORCHESTRION_DATABASE_URL", "mysql://db/orchestrion"),
        ("ORCHESTRION_REDIS_URL", "http://cache:6379"),
        ("ORCHESTRION_TEST_CLOCK", "sometimes"),
        ("ORCHESTRION_HOST", " "),
    ],
)
def test_an_invalid_value_is_one_error_naming_its_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: raw})
    message = str(refused.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message


def test_several_invalid_values_are_all_named_in_one_error() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"ORCHESTRION_PORT": "x", "ORCHESTRION_LOG_LEVEL": "loud"})
    assert "ORCHESTRION_PORT" in str(refused.value)
    assert "ORCHESTRION_LOG_LEVEL" in str(refused.value)


def test_an_account_without_its_token_is_refused_naming_both_variables() -> None:
    with pytest.raises(SettingsError, match="ORCHESTRION_ACCOUNT_SID and ORCHESTRION_AUTH_TOKEN"):
        Settings.from_env({"ORCHESTRION_ACCOUNT_SID": ACCOUNT_SID})


def test_an_account_sid_must_be_ac_and_32_hex_characters() -> None:
    with pytest.raises(SettingsError, match="ORCHESTRION_ACCOUNT_SID"):
        Settings.from_env({"ORCHESTRION_ACCOUNT_SID": "AC" + "z" * 32, "ORCHESTRION_AUTH_TOKEN": "t"})


def test_repr_never_shows_a_secret() -> None:
    settings = Settings.from_env(
        {
            "ORCHESTRION_DATABASE_URL": "postgresql://orch:db-pass-1@db:5432/orch?password=db-pass-2",
            "ORCHESTRION_REDIS_URL": "redis://:redis-pass@cache:6379/0",
            "ORCHESTRION_ACCOUNT_SID": ACCOUNT_SID,
            "ORCHESTRION_AUTH_TOKEN": "token-value",
            "ORCHESTRION_SECRET_KEY": "key-value",
        }
    )
    shown = repr(settings) + str(settings) + str(settings.database_url) + str(settings.redis_url)
    for secret in ("db-pass-1", "db-pass-2", "redis-pass", "token-value", "key-value"):
        assert secret not in shown
    assert "postgresql://orch:***@db:5432/orch" in shown
    assert settings.database_url.get_secret_value().endswith("?password=db-pass-2")


def test_an_invalid_secret_is_named_but_never_repeated() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"ORCHESTRION_DATABASE_URL": "mysql://orch:db-pass@db/orch"})
    assert "ORCHESTRION_DATABASE_URL" in str(refused.value)
    assert "db-pass" not in str(refused.value)


def test_keyword_construction_reads_nothing_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRION_PORT", "9999")
    assert Settings(log_level="warning").port == 8080


def test_keyword_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="log_level"):
        Settings(log_level="loud")


def test_overrides_are_validated_and_none_keeps_the_value() -> None:
    settings = Settings().with_overrides(port=9000, host=None)
    assert (settings.port, settings.host) == (9000, "127.0.0.1")
    with pytest.raises(SettingsError, match="ORCHESTRION_PORT"):
        settings.with_overrides(port=70000)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///orchestrion.db", "sqlite:///orchestrion.db"),
        ("postgresql://orch@db/orch", "postgresql://orch@db/orch"),
        ("postgresql://orch:pw@db:5432/orch", "postgresql://orch:***@db:5432/orch"),
        ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://db/orch?user=orch&password=pw", "postgresql://db/orch?user=orch&password=***"),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
