"""Settings: read once, at the edge (the CLI), into one typed, validated object.

One field per setting; its environment variable is ``ORCHESTRION_`` + the
field's name in capitals (pydantic-settings derives it, so a new field needs
no parsing code). ``Settings.from_env`` reads the environment (or a given
mapping) and turns every invalid value into one ``SettingsError`` that names
its variables. ``Settings(...)`` with keyword arguments reads nothing but
its arguments (tests build settings that way), and validates them the same.

Secrets never reach a ``repr`` or a log line: the auth token and the secret
key are ``SecretStr``; the database and Redis URLs are ``SecretUrl``, shown
with their password masked (``get_secret_value()`` gives the real one).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    Secret,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

ENV_PREFIX = "ORCHESTRION_"
DEFAULT_DATABASE_URL = "sqlite:///orchestrion.db"
_MASK = "***"


class SettingsError(ValueError):
    """A setting from the environment or command line is invalid."""


def redact_url(url: str) -> str:
    """``url`` with any password (in the authority or a ``password`` query parameter) masked."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return _MASK
    netloc, query = parts.netloc, parts.query
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{_MASK}@{hostport}"
    if "password" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, _MASK if k.lower() == "password" else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing to hide (and sqlite:///file keeps its form)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class SecretUrl(Secret[str]):
    """A URL that may hold a password: ``str`` and ``repr`` show it with the password masked."""

    def _display(self) -> str:
        return redact_url(self.get_secret_value())


def _scheme_in(*schemes: str) -> Any:
    def check(url: SecretUrl) -> SecretUrl:
        scheme = urlsplit(url.get_secret_value()).scheme.split("+", 1)[0].lower()
        if scheme not in schemes:
            raise ValueError(f"the URL must start with {' or '.join(s + '://' for s in schemes)}")
        return url

    return AfterValidator(check)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
DatabaseUrlSetting = Annotated[SecretUrl, _scheme_in("sqlite", "postgresql", "postgres")]
RedisUrlSetting = Annotated[SecretUrl, _scheme_in("redis", "rediss", "unix")]
LogLevel = Annotated[Literal["debug", "info", "warning", "error", "critical"], BeforeValidator(_lower)]
LogFormat = Annotated[Literal["console", "json"], BeforeValidator(_lower)]
AccountSid = Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")]


class _Environment(EnvSettingsSource):
    """The environment-variable source, over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # VAR= means "not set"
        frozen=True,
        extra="forbid",
        validate_default=True,
    )

    database_url: DatabaseUrlSetting = SecretUrl(DEFAULT_DATABASE_URL)
    host: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    account_sid: AccountSid | None = None
    auth_token: SecretStr | None = None
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("orchestrion.key")
    sandbox_step_ms: NonNegativeInt = 50
    # How long a Studio Flow Execution of the stand-in stays active before it reads ended.
    studio_execution_s: NonNegativeFloat = 60.0
    log_level: LogLevel = "info"
    log_format: LogFormat = "console"
    run_worker: bool = True
    worker_concurrency: Annotated[int, Field(ge=1)] = 16
    # Slots of one job class (None: worker_concurrency): sends, webhook deliveries, timers and operations.
    worker_concurrency_sends: Annotated[int, Field(ge=1)] | None = None
    worker_concurrency_webhooks: Annotated[int, Field(ge=1)] | None = None
    worker_concurrency_timers: Annotated[int, Field(ge=1)] | None = None
    # Backpressure: how long a new Action may wait for a free send slot of this process's
    # dispatcher before its job is left in the outbox for a claim (0: never wait).
    send_admission_wait_ms: NonNegativeInt = 250
    # On SIGTERM/SIGINT: how long running jobs (and, for serve, requests) may take to finish.
    shutdown_grace_s: NonNegativeFloat = 20.0
    # The longest wait between two attempts of a failing job (the backoff's cap).
    retry_max_delay_s: NonNegativeFloat = 60.0
    job_lease_ms: Annotated[int, Field(ge=100)] = 30_000
    # The largest request body the API reads (413 above it).
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    # PostgreSQL connections per process, never more (store.pool): 0 derives the pool from what the
    # process runs, db_api_connections for its API plus one per dispatcher slot.
    db_pool_size: NonNegativeInt = 0
    db_api_connections: Annotated[int, Field(ge=1)] = 10
    redis_url: RedisUrlSetting | None = None
    rate_limit_rps: NonNegativeFloat = 0.0
    rate_limit_burst: NonNegativeInt = 0
    rate_limit_concurrency: NonNegativeInt = 100
    actions_per_conversation_per_second: NonNegativeFloat = 30.0
    # Status callbacks: one attempt's timeout, how many attempts and for how long, where to.
    webhook_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    webhook_max_attempts: Annotated[int, Field(ge=1)] = 10
    webhook_max_age_s: NonNegativeFloat = 3600.0
    webhook_public_only: bool = False
    webhook_log_retention_s: NonNegativeFloat = 7 * 24 * 3600.0
    # The test clock (POST /sandbox/clock/advance): for emulators and tests only.
    test_clock: bool = False
    test_clock_allow_postgres: bool = False
    # The public base URL (scheme://host[:port][/prefix]) Twilio reaches this server at, for inbound signatures.
    public_url: Annotated[str | None, AfterValidator(lambda v: (v or "").rstrip("/") or None)] = None
    # Downstream providers (services.providers): Twilio's REST base URL (an account's `apiUrl` option
    # wins), each call's timeout, and how often a process reads an account's provider configuration again.
    twilio_api_url: Annotated[str, AfterValidator(lambda v: v.rstrip("/"))] = "https://api.twilio.com"
    provider_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    providers_refresh_s: NonNegativeFloat = 2.0
    # Seeing it: the console at /console, Prometheus metrics at /metrics (optionally behind a bearer token).
    console: bool = True
    metrics: bool = True
    metrics_token: SecretStr | None = None
    # prometheus-client's multiprocess directory: its own variable, PROMETHEUS_MULTIPROC_DIR
    # (`serve --workers N` makes one per run when it is not set).
    metrics_multiprocess_dir: str | None = Field(
        default=None, validation_alias=AliasChoices("metrics_multiprocess_dir", "PROMETHEUS_MULTIPROC_DIR")
    )
    # OpenTelemetry traces (needs the `otel` extra), exported by OTLP as the OTEL_* variables say.
    tracing: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Direct construction reads only its arguments; ``from_env`` hands over the environment.
        return (init_settings,)

    @model_validator(mode="after")
    def _account_pair(self) -> Settings:
        if (self.account_sid is None) != (self.auth_token is None):
            raise ValueError(f"set both {ENV_PREFIX}ACCOUNT_SID and {ENV_PREFIX}AUTH_TOKEN, or neither")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (or ``env``) gives; SettingsError naming each invalid variable."""
        values = _Environment(cls, os.environ if env is None else env)()
        settings = _validated(cls, values)
        settings.check_test_clock()
        return settings

    def check_test_clock(self) -> None:
        """The test clock moves every process's time: refuse it where a production deployment runs."""
        if self.test_clock and self.backend != "sqlite" and not self.test_clock_allow_postgres:
            raise SettingsError(
                "ORCHESTRION_TEST_CLOCK is for emulators and tests: with a database other than SQLite, "
                "also set ORCHESTRION_TEST_CLOCK_ALLOW_POSTGRES=1 to confirm this deployment is not production"
            )

    @property
    def backend(self) -> str:
        return "sqlite" if self.database_url.get_secret_value().startswith("sqlite") else "postgresql"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given settings changed (None: keep), validated like the environment's."""
        values: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        values.update({k: v for k, v in changes.items() if v is not None})
        return _validated(type(self), values)

    def resolve_secret_key(self) -> str:
        """The key that encrypts secrets at rest: from the environment, else a key file made on first use."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.secret_key_file
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key


_SECRET_FIELDS = frozenset({"database_url", "redis_url", "auth_token", "secret_key", "metrics_token"})


def _validated(cls: type[Settings], values: Mapping[str, Any]) -> Settings:
    try:
        return cls(**values)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """One line naming each invalid variable; a secret's value is never repeated."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        message = item["msg"].removeprefix("Value error, ")
        if not field:
            problems.append(message)
            continue
        shown = "" if field in _SECRET_FIELDS else f" (got {item['input']!r})"
        problems.append(f"{ENV_PREFIX}{field.upper()}: {message}{shown}")
    return "; ".join(problems)
