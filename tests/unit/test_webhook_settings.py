"""Status-callback settings read from the environment."""

from __future__ import annotations

import pytest

from orchestrion.settings import Settings, SettingsError


def test_defaults_suit_local_use() -> None:
    settings = Settings.from_env({})
    assert (settings.webhook_public_only, settings.webhook_timeout_s, settings.webhook_max_attempts) == (
        False,
        10.0,
        10,
    )
    assert (settings.webhook_max_age_s, settings.webhook_log_retention_s) == (3600.0, 604800.0)


def test_every_webhook_setting_is_read() -> None:
    settings = Settings.from_env(
        {
            "ORCHESTRION_WEBHOOK_PUBLIC_ONLY": "true",
            "ORCHESTRION_WEBHOOK_TIMEOUT_S": "2.5",
            "ORCHESTRION_WEBHOOK_MAX_ATTEMPTS": "3",
            "ORCHESTRION_WEBHOOK_MAX_AGE_S": "60",
            "ORCHESTRION_WEBHOOK_LOG_RETENTION_S": "86400",
        }
    )
    assert (settings.webhook_public_only, settings.webhook_timeout_s, settings.webhook_max_attempts) == (True, 2.5, 3)
    assert (settings.webhook_max_age_s, settings.webhook_log_retention_s) == (60.0, 86400.0)


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("ON", True), ("0", False), ("off", False)])
def test_public_only_takes_the_usual_spellings(raw: str, value: bool) -> None:
    assert Settings.from_env({"ORCHESTRION_WEBHOOK_PUBLIC_ONLY": raw}).webhook_public_only is value


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("ORCHESTRION_WEBHOOK_PUBLIC_ONLY", "maybe"),
        ("ORCHESTRION_WEBHOOK_TIMEOUT_S", "0"),
        ("ORCHESTRION_WEBHOOK_TIMEOUT_S", "soon"),
        ("ORCHESTRION_WEBHOOK_MAX_ATTEMPTS", "0"),
        ("ORCHESTRION_WEBHOOK_MAX_AGE_S", "-1"),
    ],
)
def test_invalid_webhook_settings_are_refused(name: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: raw})
