"""The test clock is off by default and cannot be switched on by accident where production runs."""

from __future__ import annotations

import pytest

from orchestrion.settings import Settings, SettingsError

POSTGRES = "postgresql://orchestrion@db:5432/orchestrion"


def test_the_test_clock_is_off_by_default() -> None:
    assert Settings.from_env({}).test_clock is False


def test_the_test_clock_can_be_enabled_on_sqlite() -> None:
    assert Settings.from_env({"ORCHESTRION_TEST_CLOCK": "1"}).test_clock is True


def test_the_test_clock_is_refused_on_postgresql_without_confirmation() -> None:
    with pytest.raises(SettingsError, match="ORCHESTRION_TEST_CLOCK_ALLOW_POSTGRES"):
        Settings.from_env({"ORCHESTRION_TEST_CLOCK": "1", "ORCHESTRION_DATABASE_URL": POSTGRES})


def test_the_test_clock_is_allowed_on_postgresql_when_confirmed() -> None:
    env = {
        "ORCHESTRION_TEST_CLOCK": "1",
        "ORCHESTRION_TEST_CLOCK_ALLOW_POSTGRES": "1",
        "ORCHESTRION_DATABASE_URL": POSTGRES,
    }
    assert Settings.from_env(env).test_clock is True


def test_a_database_url_given_later_is_checked_again() -> None:
    settings = Settings.from_env({"ORCHESTRION_TEST_CLOCK": "1"}).with_overrides(database_url=POSTGRES)
    with pytest.raises(SettingsError):
        settings.check_test_clock()
