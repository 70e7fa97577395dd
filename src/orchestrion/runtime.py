"""Composition root: builds the store, services, channels, dispatcher and app from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import structlog
from starlette.applications import Starlette
from starlette.types import ASGIApp

import orchestrion
from orchestrion import collection, logs
from orchestrion.api.app import create_app
from orchestrion.api.context import ApiState
from orchestrion.api.pagination import PageTokens
from orchestrion.dispatch.retry import Backoff
from orchestrion.dispatch.worker import Dispatcher, Pool
from orchestrion.domain.clock import SystemClock
from orchestrion.domain.errors import StoreUnavailable
from orchestrion.domain.ratelimit import Limits
from orchestrion.services import accounts
from orchestrion.services.accounts import Authenticator
from orchestrion.services.context import Context, ProviderSettings
from orchestrion.services.jobs import JOB_CLASSES, SENDS, TIMERS, WEBHOOKS, Handler, build_handlers, close_handlers
from orchestrion.services.metrics import Metrics, NoMetrics
from orchestrion.services.providers import SigningTokens
from orchestrion.services.ratelimits import Limiter, MemoryLimiter, RateLimits
from orchestrion.services.testclock import TestClock
from orchestrion.services.tracing import NoTracer, Tracer
from orchestrion.settings import Settings
from orchestrion.store.database import Database
from orchestrion.store.notify import JOBS_CHANNEL, PgListener
from orchestrion.store.pool import pool_size, room
from orchestrion.store.redis_limiter import RedisLimiter
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from orchestrion.telemetry.prometheus import PrometheusMetrics
from orchestrion.webhooks.sender import WebhookPolicy, WebhookSender

log = structlog.get_logger("orchestrion")


@dataclass
class Runtime:
    settings: Settings
    ctx: Context
    secret_key: str = field(repr=False)
    limits: RateLimits = field(repr=False, default_factory=lambda: RateLimits(MemoryLimiter(), Limits()))
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _hurry: asyncio.Event = field(default_factory=asyncio.Event)  # a second stop request: no more grace
    _worker_task: asyncio.Task[None] | None = None
    # The test clock, when the settings enable it (an emulator feature), and its sync task.
    test_clock: TestClock | None = field(default=None, repr=False)
    _clock_task: asyncio.Task[None] | None = None
    # /metrics, when metrics are on (the same object is ctx.metrics).
    prometheus: PrometheusMetrics | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        serves_api: bool = True,
        runs_dispatcher: bool | None = None,
        tracer: Tracer | None = None,
    ) -> Runtime:
        """``serves_api`` / ``runs_dispatcher`` (default: ``settings.run_worker``) size the database pool;
        ``tracer`` replaces the one ORCHESTRION_TRACING would make (tests give an in-memory one)."""
        secret_key = settings.resolve_secret_key()
        dispatches = settings.run_worker if runs_dispatcher is None else runs_dispatcher
        size = pool_size(
            settings.db_pool_size,
            api_connections=settings.db_api_connections,
            serves_api=serves_api,
            dispatcher_slots=settings.worker_concurrency if dispatches else 0,
        )
        store = Store(Database(settings.database_url.get_secret_value(), pool_size=size), SecretBox(secret_key))
        webhooks = WebhookSender(
            WebhookPolicy(
                timeout_s=settings.webhook_timeout_s,
                max_attempts=settings.webhook_max_attempts,
                max_age_ms=int(settings.webhook_max_age_s * 1000),
                public_only=settings.webhook_public_only,
                log_retention_ms=int(settings.webhook_log_retention_s * 1000),
            ),
            user_agent=f"Orchestrion/{orchestrion.__version__}",
        )
        settings.check_test_clock()
        clock = SystemClock()
        prometheus = PrometheusMetrics(settings.metrics_multiprocess_dir) if settings.metrics else None
        metrics: Metrics = prometheus or NoMetrics()
        ctx = Context(
            store=store,
            clock=clock,
            sandbox_step_ms=settings.sandbox_step_ms,
            webhooks=webhooks,
            studio_execution_ms=int(settings.studio_execution_s * 1000),
            metrics=metrics,
            tracer=tracer or _tracer(settings),
            providers=ProviderSettings(
                public_url=settings.public_url,
                twilio_api_url=settings.twilio_api_url,
                timeout_s=settings.provider_timeout_s,
                refresh_s=settings.providers_refresh_s,
            ),
        )
        limiter: Limiter = MemoryLimiter()
        if settings.redis_url is not None:
            limiter = RedisLimiter(settings.redis_url.get_secret_value())
        limits = Limits(
            requests_per_second=settings.rate_limit_rps,
            burst=settings.rate_limit_burst,
            concurrent_requests=settings.rate_limit_concurrency,
            actions_per_conversation_per_second=settings.actions_per_conversation_per_second,
        )
        test_clock = TestClock(ctx, clock) if settings.test_clock else None
        return cls(
            settings=settings,
            ctx=ctx,
            secret_key=secret_key,
            limits=RateLimits(limiter, limits, metrics),
            test_clock=test_clock,
            prometheus=prometheus,
        )

    def _derived_key(self, purpose: bytes) -> bytes:
        return hashlib.sha256(purpose + b":" + self.secret_key.encode()).digest()

    def api_state(self) -> ApiState:
        return ApiState(
            ctx=self.ctx,
            auth=Authenticator(self.ctx),
            tokens=PageTokens(self._derived_key(b"orchestrion-page-tokens")),
            limits=self.limits,
            signing=SigningTokens(self.ctx),
            test_clock=self.test_clock,
            public_url=self.settings.public_url,
            console_key=self._derived_key(b"orchestrion-console-sessions") if self.settings.console else None,
            metrics=self.prometheus,
            metrics_token=None
            if self.settings.metrics_token is None
            else self.settings.metrics_token.get_secret_value(),
            max_body_bytes=self.settings.max_body_bytes,
        )

    async def check_database_room(self) -> None:
        """Say once, at start, when this process's pool could take more connections than PostgreSQL has left."""
        database = self.ctx.store.database
        try:
            left = await room(database)
        except StoreUnavailable as error:
            log.warning("database_room_unknown", error=error.message)
            return
        if left is not None and database.pool_size > left.free:
            log.warning(
                "database_pool_exceeds_server_room",
                pool_size=database.pool_size,
                free_connections=left.free,
                max_connections=left.max_connections,
                consequence="requests may wait for a connection or fail with 503 once the server is full",
                fix="lower ORCHESTRION_DB_POOL_SIZE / ORCHESTRION_DB_API_CONNECTIONS / worker concurrency, "
                "or raise max_connections",
            )

    async def start_test_clock(self) -> None:
        """With the test clock on: adopt the shared offset, then follow it (once per process)."""
        if self.test_clock is None or self._clock_task is not None:
            return
        await self.test_clock.load()
        log.warning("test_clock_enabled", offset_ms=self.test_clock.state().offset_ms)
        self._clock_task = asyncio.create_task(self.test_clock.run_sync(self._stop))

    async def ensure_dev_account(self) -> None:
        """Create or update the configured account; with none configured and none stored, make one."""
        s = self.settings
        if s.account_sid and s.auth_token:
            created = await accounts.ensure_account(self.ctx, s.account_sid, s.auth_token.get_secret_value())
            log.info("account_ready", account_sid=s.account_sid, created=created)
        elif (creds := await accounts.create_first_account(self.ctx)) is not None:
            # Printed once, on purpose: this is how a developer learns the credentials.
            print(
                "\nCreated a development account (shown once):\n"
                f"  TWILIO_ACCOUNT_SID={creds.sid}\n  TWILIO_AUTH_TOKEN={creds.secret}\n",
                flush=True,
            )

    def dispatcher(self, concurrency: int | None = None, handlers: Mapping[str, Handler] | None = None) -> Dispatcher:
        """``concurrency`` (``worker --concurrency``) replaces ORCHESTRION_WORKER_CONCURRENCY."""
        return Dispatcher(
            self.ctx,
            build_handlers(self.ctx) if handlers is None else handlers,
            pools=self.pools(concurrency),
            lease_ms=self.settings.job_lease_ms,
            shutdown_grace_s=self.settings.shutdown_grace_s,
            admission_wait_s=self.settings.send_admission_wait_ms / 1000,
            backoff=Backoff(cap_ms=max(1, int(self.settings.retry_max_delay_s * 1000))),
        )

    def pools(self, concurrency: int | None = None) -> list[Pool]:
        """One pool per job class: its own setting, else the general worker concurrency."""
        s = self.settings
        own = {
            SENDS: s.worker_concurrency_sends,
            WEBHOOKS: s.worker_concurrency_webhooks,
            TIMERS: s.worker_concurrency_timers,
        }
        base = concurrency or s.worker_concurrency
        return [Pool(name, kinds, own.get(name) or base) for name, kinds in JOB_CLASSES.items()]

    async def start_worker(self, concurrency: int | None = None) -> None:
        self._worker_task = asyncio.create_task(self.run_worker(concurrency))

    async def run_worker(self, concurrency: int | None = None) -> None:
        """The dispatcher, woken by LISTEN/NOTIFY on PostgreSQL and by polling everywhere."""
        await self.start_test_clock()
        await self.check_database_room()
        handlers = build_handlers(self.ctx)
        dispatcher = self.dispatcher(concurrency, handlers)
        self.ctx.handoff = dispatcher  # this process's new send jobs go straight to it
        tasks = [asyncio.create_task(dispatcher.run(self._stop, self._hurry))]
        if self.ctx.store.backend == "postgresql":
            listener = PgListener(self.settings.database_url.get_secret_value(), JOBS_CHANNEL, self.ctx.wakeup.notify)
            tasks.append(asyncio.create_task(listener.run(self._stop)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # None of them outlives the worker: a task left running would be cut off mid-query at exit.
            for task in tasks:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            await self.ctx.webhooks.aclose()
            await close_handlers(handlers)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    def request_stop(self) -> None:
        """The first request stops claiming and starts the grace period; a second one ends it."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    async def stop(self) -> None:
        """Stop the background tasks, then release every resource, whatever failed before or on the way."""
        self._stop.set()
        for task in (self._worker_task, self._clock_task):
            if task is None:
                continue
            try:
                await task
            except Exception:
                log.exception("background_task_failed")
        for close in (self.limits.limiter.close, self.ctx.webhooks.aclose, self.ctx.store.close):
            try:
                await close()
            except Exception:
                log.exception("close_failed", resource=close.__qualname__)
        self.ctx.tracer.shutdown()

    def app(self, *, run_worker: bool) -> ASGIApp:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await self.start_test_clock()
            if run_worker:
                await self.start_worker()  # which checks the database's room first
            else:
                await self.check_database_room()
            try:
                yield
            finally:
                await self.stop()

        return create_app(self.api_state(), lifespan=lifespan)


class TracingUnavailable(RuntimeError):
    """ORCHESTRION_TRACING is on but the `otel` extra is not installed."""


def _tracer(settings: Settings) -> Tracer:
    if not settings.tracing:
        return NoTracer()
    try:
        from orchestrion.telemetry.otel import OtelTracer
    except ImportError as error:
        raise TracingUnavailable(
            "ORCHESTRION_TRACING is on but OpenTelemetry is not installed: pip install 'orchestrion[otel]'"
        ) from error
    return OtelTracer.otlp()


def app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` in multi-process mode: settings come from the environment.

    Each API process is started afresh (spawned), so this is its entry point: it configures logging.
    """
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    app = Runtime.build(settings).app(run_worker=settings.run_worker)
    collection.for_serving()
    return app
