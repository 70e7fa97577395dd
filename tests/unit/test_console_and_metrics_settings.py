"""Console and metrics settings read from the environment."""

from __future__ import annotations

import pytest

from orchestrion.settings import Settings, SettingsError


def test_the_console_and_metrics_are_on_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.console, settings.metrics, settings.metrics_token, settings.metrics_multiprocess_dir) == (
        True,
        True,
        None,
        None,
    )


def test_each_can_be_turned_off() -> None:
    settings = Settings.from_env({"ORCHESTRION_CONSOLE": "off", "ORCHESTRION_METRICS": "0"})
    assert (settings.console, settings.metrics) == (False, False)


def test_the_metrics_token_stays_out_of_the_repr() -> None:
    settings = Settings.from_env({"ORCHESTRION_METRICS_TOKEN": "s3cret-token"})
    assert settings.metrics_token is not None and settings.metrics_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings)


def test_the_multiprocess_directory_is_prometheus_clients_own_variable() -> None:
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": "/tmp/m"}).metrics_multiprocess_dir == "/tmp/m"


def test_a_switch_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(SettingsError, match="ORCHESTRION_CONSOLE"):
        Settings.from_env({"ORCHESTRION_CONSOLE": "maybe"})
