"""DatabaseUrl: what each backend's driver is given, SSL included."""

from __future__ import annotations

import pytest

from orchestrion.store.database import DatabaseUrl
from orchestrion.store.pool import pool_size


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@127.0.0.1:5432/db",
        "postgresql://u@localhost/db",
        "postgresql://u@[::1]:5432/db",
        "postgresql:///db",  # the default Unix socket
        "postgresql://u@%2Fvar%2Frun%2Fpostgresql/db",
    ],
)
def test_a_loopback_or_socket_url_without_sslmode_attempts_no_ssl(url: str) -> None:
    parsed = DatabaseUrl.parse(url)
    assert parsed.sqlalchemy_url.startswith("postgresql+asyncpg://") and parsed.sqlalchemy_url.endswith("?ssl=disable")
    assert parsed.asyncpg_dsn.startswith("postgresql://") and parsed.asyncpg_dsn.endswith("?sslmode=disable")


def test_a_remote_url_without_sslmode_keeps_the_drivers_default() -> None:
    parsed = DatabaseUrl.parse("postgres://u:p@db.example.com:5432/db")
    assert parsed.sqlalchemy_url == "postgresql+asyncpg://u:p@db.example.com:5432/db"
    assert parsed.asyncpg_dsn == "postgresql://u:p@db.example.com:5432/db"


@pytest.mark.parametrize("query", ["sslmode=require", "ssl=require"])
def test_an_explicit_sslmode_is_respected_even_on_loopback(query: str) -> None:
    parsed = DatabaseUrl.parse(f"postgresql://u@127.0.0.1/db?{query}&application_name=orch")
    assert parsed.sqlalchemy_url == "postgresql+asyncpg://u@127.0.0.1/db?application_name=orch&ssl=require"
    assert parsed.asyncpg_dsn == "postgresql://u@127.0.0.1/db?application_name=orch&sslmode=require"


def test_an_unknown_sslmode_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="verify-full"):
        DatabaseUrl.parse("postgresql://u@db.example.com/db?sslmode=sometimes")


def test_sqlite_urls_are_untouched() -> None:
    assert DatabaseUrl.parse("sqlite:///orchestrion.db").sqlalchemy_url == "sqlite:///orchestrion.db"


@pytest.mark.parametrize(
    ("configured", "serves_api", "slots", "expected"),
    [
        (0, True, 16, 10 + 16 + 1),  # orchestrion serve: the API and the dispatcher
        (0, True, 0, 10),  # serve --no-worker
        (0, False, 8, 8 + 1),  # orchestrion worker --concurrency 8
        (0, False, 0, 1),  # migrate, accounts
        (16, True, 16, 16),  # ORCHESTRION_DB_POOL_SIZE wins
    ],
)
def test_the_pool_is_sized_for_what_the_process_runs(
    configured: int, serves_api: bool, slots: int, expected: int
) -> None:
    assert pool_size(configured, api_connections=10, serves_api=serves_api, dispatcher_slots=slots) == expected
