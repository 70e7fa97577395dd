"""Settings: read once, at the edge (the CLI), into one typed object.

Secrets are kept out of ``repr`` so they never reach a log line.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///orchestrion.db"


class SettingsError(ValueError):
    """A setting from the environment or command line is invalid."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from error
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from error
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str, minimum: int) -> int | None:
    return _int(env, name, minimum, minimum) if env.get(name) else None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8080
    account_sid: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    secret_key_file: Path = Path("orchestrion.key")
    sandbox_step_ms: int = 50
    studio_execution_s: float = 60.0
    log_level: str = "info"
    log_format: str = "console"
    run_worker: bool = True
    worker_concurrency: int = 16
    job_lease_ms: int = 30_000
    max_body_bytes: int = 1024 * 1024
    redis_url: str | None = field(default=None, repr=False)
    rate_limit_rps: float = 0.0
    rate_limit_burst: int = 0
    rate_limit_concurrency: int = 100
    actions_per_conversation_per_second: float = 30.0
    # Status callbacks: one attempt's timeout, how many attempts and for how long, where to.
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 10
    webhook_max_age_s: float = 3600.0
    webhook_public_only: bool = False
    webhook_log_retention_s: float = 7 * 24 * 3600.0
    # The test clock (POST /sandbox/clock/advance): for emulators and tests only.
    test_clock: bool = False
    test_clock_allow_postgres: bool = False
    # The public base URL (scheme://host[:port][/prefix]) Twilio reaches this server at, for inbound signatures.
    public_url: str | None = None
    # --- The dispatcher (one block, for the port to pydantic-settings): slots per job class
    # (None: worker_concurrency).
    worker_concurrency_sends: int | None = None
    worker_concurrency_webhooks: int | None = None
    worker_concurrency_timers: int | None = None
    # On SIGTERM/SIGINT: how long running jobs (and, for serve, requests) may take to finish.
    shutdown_grace_s: float = 20.0
    # The longest wait between two attempts of a failing job (the backoff's cap).
    retry_max_delay_s: float = 60.0
    # PostgreSQL connections per process, never more (store.pool): 0 derives the pool from what the
    # process runs, db_api_connections for its API plus one per dispatcher slot.
    db_pool_size: int = 0
    db_api_connections: int = 10
    # Seeing it (issue 11): the console at /console, Prometheus metrics at /metrics.
    console: bool = True
    metrics: bool = True
    metrics_token: str | None = field(default=None, repr=False)
    # prometheus-client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR; `serve --workers N` makes one per run).
    metrics_multiprocess_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        account_sid = env.get("ORCHESTRION_ACCOUNT_SID") or None
        auth_token = env.get("ORCHESTRION_AUTH_TOKEN") or None
        if (account_sid is None) != (auth_token is None):
            raise SettingsError("Set both ORCHESTRION_ACCOUNT_SID and ORCHESTRION_AUTH_TOKEN, or neither")
        if account_sid is not None and not (account_sid.startswith("AC") and len(account_sid) == 34):
            raise SettingsError("ORCHESTRION_ACCOUNT_SID must be AC followed by 32 hex characters")
        log_format = env.get("ORCHESTRION_LOG_FORMAT", "console")
        if log_format not in ("console", "json"):
            raise SettingsError("ORCHESTRION_LOG_FORMAT must be console or json")
        settings = cls(
            database_url=env.get("ORCHESTRION_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env.get("ORCHESTRION_HOST") or "127.0.0.1",
            port=_int(env, "ORCHESTRION_PORT", 8080, 0),
            account_sid=account_sid,
            auth_token=auth_token,
            secret_key=env.get("ORCHESTRION_SECRET_KEY") or None,
            secret_key_file=Path(env.get("ORCHESTRION_SECRET_KEY_FILE") or "orchestrion.key"),
            sandbox_step_ms=_int(env, "ORCHESTRION_SANDBOX_STEP_MS", 50),
            studio_execution_s=_float(env, "ORCHESTRION_STUDIO_EXECUTION_S", 60.0),
            log_level=(env.get("ORCHESTRION_LOG_LEVEL") or "info").lower(),
            log_format=log_format,
            run_worker=(env.get("ORCHESTRION_RUN_WORKER") or "1") not in ("0", "false", "no"),
            worker_concurrency=_int(env, "ORCHESTRION_WORKER_CONCURRENCY", 16, 1),
            job_lease_ms=_int(env, "ORCHESTRION_JOB_LEASE_MS", 30_000, 100),
            redis_url=env.get("ORCHESTRION_REDIS_URL") or None,
            rate_limit_rps=_float(env, "ORCHESTRION_RATE_LIMIT_RPS", 0.0),
            rate_limit_burst=_int(env, "ORCHESTRION_RATE_LIMIT_BURST", 0),
            rate_limit_concurrency=_int(env, "ORCHESTRION_RATE_LIMIT_CONCURRENCY", 100),
            actions_per_conversation_per_second=_float(env, "ORCHESTRION_ACTIONS_PER_CONVERSATION_PER_SECOND", 30.0),
            webhook_timeout_s=_float(env, "ORCHESTRION_WEBHOOK_TIMEOUT_S", 10.0),
            webhook_max_attempts=_int(env, "ORCHESTRION_WEBHOOK_MAX_ATTEMPTS", 10, 1),
            webhook_max_age_s=_float(env, "ORCHESTRION_WEBHOOK_MAX_AGE_S", 3600.0),
            webhook_public_only=_bool(env, "ORCHESTRION_WEBHOOK_PUBLIC_ONLY", False),
            webhook_log_retention_s=_float(env, "ORCHESTRION_WEBHOOK_LOG_RETENTION_S", 7 * 24 * 3600.0),
            test_clock=_bool(env, "ORCHESTRION_TEST_CLOCK", False),
            test_clock_allow_postgres=_bool(env, "ORCHESTRION_TEST_CLOCK_ALLOW_POSTGRES", False),
            public_url=(env.get("ORCHESTRION_PUBLIC_URL") or "").rstrip("/") or None,
            # --- The dispatcher.
            worker_concurrency_sends=_optional_int(env, "ORCHESTRION_WORKER_CONCURRENCY_SENDS", 1),
            worker_concurrency_webhooks=_optional_int(env, "ORCHESTRION_WORKER_CONCURRENCY_WEBHOOKS", 1),
            worker_concurrency_timers=_optional_int(env, "ORCHESTRION_WORKER_CONCURRENCY_TIMERS", 1),
            shutdown_grace_s=_float(env, "ORCHESTRION_SHUTDOWN_GRACE_S", 20.0),
            retry_max_delay_s=_float(env, "ORCHESTRION_RETRY_MAX_DELAY_S", 60.0),
            db_pool_size=_int(env, "ORCHESTRION_DB_POOL_SIZE", 0),
            db_api_connections=_int(env, "ORCHESTRION_DB_API_CONNECTIONS", 10, 1),
            console=_bool(env, "ORCHESTRION_CONSOLE", True),
            metrics=_bool(env, "ORCHESTRION_METRICS", True),
            metrics_token=env.get("ORCHESTRION_METRICS_TOKEN") or None,
            metrics_multiprocess_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        )
        settings.check_test_clock()
        if settings.webhook_timeout_s <= 0:
            raise SettingsError("ORCHESTRION_WEBHOOK_TIMEOUT_S must be more than 0")
        return settings

    def check_test_clock(self) -> None:
        """The test clock moves every process's time: refuse it where a production deployment runs."""
        if self.test_clock and not self.database_url.startswith("sqlite") and not self.test_clock_allow_postgres:
            raise SettingsError(
                "ORCHESTRION_TEST_CLOCK is for emulators and tests: with a database other than SQLite, "
                "also set ORCHESTRION_TEST_CLOCK_ALLOW_POSTGRES=1 to confirm this deployment is not production"
            )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    def resolve_secret_key(self) -> str:
        """The key that encrypts secrets at rest: from the environment, else a key file made on first use."""
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_file
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key
