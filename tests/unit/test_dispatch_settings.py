"""Dispatcher settings: slots per job class, each defaulting to the general worker concurrency."""

from __future__ import annotations

import pytest

from orchestrion.runtime import Runtime
from orchestrion.settings import Settings, SettingsError


def _sizes(env: dict[str, str], concurrency: int | None = None) -> dict[str, int]:
    settings = Settings.from_env(
        {"ORCHESTRION_SECRET_KEY": "k", "ORCHESTRION_DATABASE_URL": "sqlite:///unused.db", **env}
    )
    return {pool.name: pool.size for pool in Runtime.build(settings).pools(concurrency)}


def test_each_class_takes_the_worker_concurrency_unless_it_has_its_own() -> None:
    assert _sizes({}) == {"sends": 16, "webhooks": 16, "timers": 16}
    assert _sizes({"ORCHESTRION_WORKER_CONCURRENCY": "8", "ORCHESTRION_WORKER_CONCURRENCY_WEBHOOKS": "64"}) == {
        "sends": 8,
        "webhooks": 64,
        "timers": 8,
    }


def test_the_worker_command_concurrency_replaces_the_general_setting_only() -> None:
    env = {"ORCHESTRION_WORKER_CONCURRENCY": "8", "ORCHESTRION_WORKER_CONCURRENCY_TIMERS": "2"}
    assert _sizes(env, concurrency=32) == {"sends": 32, "webhooks": 32, "timers": 2}


def test_a_class_needs_at_least_one_slot() -> None:
    with pytest.raises(
        SettingsError, match="ORCHESTRION_WORKER_CONCURRENCY_SENDS: Input should be greater than or equal to 1"
    ):
        Settings.from_env({"ORCHESTRION_WORKER_CONCURRENCY_SENDS": "0"})


def test_the_retry_cap_bounds_every_backoff() -> None:
    settings = Settings.from_env({"ORCHESTRION_SECRET_KEY": "k", "ORCHESTRION_RETRY_MAX_DELAY_S": "2"})
    backoff = Runtime.build(settings).dispatcher()._backoff
    assert max(backoff.delay_ms(attempt) for attempt in range(1, 30)) <= 2_000
