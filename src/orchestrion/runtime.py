"""Composition root: builds the store, services, channels, dispatcher and app from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from starlette.applications import Starlette
from starlette.types import ASGIApp

import orchestrion
from orchestrion import logs
from orchestrion.api.app import create_app
from orchestrion.api.context import ApiState
from orchestrion.api.pagination import PageTokens
from orchestrion.dispatch.worker import Dispatcher
from orchestrion.domain.clock import SystemClock
from orchestrion.domain.ratelimit import Limits
from orchestrion.services import accounts
from orchestrion.services.accounts import Authenticator
from orchestrion.services.context import Context
from orchestrion.services.jobs import build_handlers
from orchestrion.services.ratelimits import Limiter, MemoryLimiter, RateLimits
from orchestrion.services.testclock import TestClock
from orchestrion.settings import Settings
from orchestrion.store.database import Database
from orchestrion.store.notify import JOBS_CHANNEL, PgListener
from orchestrion.store.redis_limiter import RedisLimiter
from orchestrion.store.secrets import SecretBox
from orchestrion.store.store import Store
from orchestrion.webhooks.sender import WebhookPolicy, WebhookSender

log = structlog.get_logger("orchestrion")


@dataclass
class Runtime:
    settings: Settings
    ctx: Context
    secret_key: str = field(repr=False)
    limits: RateLimits = field(repr=False, default_factory=lambda: RateLimits(MemoryLimiter(), Limits()))
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _worker_task: asyncio.Task[None] | None = None
    # The test clock, when the settings enable it (an emulator feature), and its sync task.
    test_clock: TestClock | None = field(default=None, repr=False)
    _clock_task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        secret_key = settings.resolve_secret_key()
        database = Database(settings.database_url.get_secret_value(), pool_size=settings.db_pool_size)
        store = Store(database, SecretBox(secret_key))
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
        ctx = Context(store=store, clock=clock, sandbox_step_ms=settings.sandbox_step_ms, webhooks=webhooks)
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
            limits=RateLimits(limiter, limits),
            test_clock=test_clock,
        )

    def api_state(self) -> ApiState:
        token_key = hashlib.sha256(b"orchestrion-page-tokens:" + self.secret_key.encode()).digest()
        return ApiState(
            ctx=self.ctx,
            auth=Authenticator(self.ctx),
            tokens=PageTokens(token_key),
            limits=self.limits,
            test_clock=self.test_clock,
            public_url=self.settings.public_url,
            max_body_bytes=self.settings.max_body_bytes,
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
        elif await accounts.any_account(self.ctx) is None:
            creds = await accounts.create_account(self.ctx)
            # Printed once, on purpose: this is how a developer learns the credentials.
            print(
                "\nCreated a development account (shown once):\n"
                f"  TWILIO_ACCOUNT_SID={creds.sid}\n  TWILIO_AUTH_TOKEN={creds.secret}\n",
                flush=True,
            )

    def dispatcher(self, concurrency: int | None = None) -> Dispatcher:
        if 2 * self.settings.webhook_timeout_s * 1000 >= self.settings.job_lease_ms:
            log.warning(
                "webhook_timeout_not_below_lease",
                webhook_timeout_s=self.settings.webhook_timeout_s,
                job_lease_ms=self.settings.job_lease_ms,
                consequence="a slow callback may be sent again by another worker before it ends",
            )
        return Dispatcher(
            self.ctx,
            build_handlers(self.ctx),
            concurrency=concurrency or self.settings.worker_concurrency,
            lease_ms=self.settings.job_lease_ms,
        )

    async def start_worker(self, concurrency: int | None = None) -> None:
        self._worker_task = asyncio.create_task(self.run_worker(concurrency))

    async def run_worker(self, concurrency: int | None = None) -> None:
        """The dispatcher, woken by LISTEN/NOTIFY on PostgreSQL and by polling everywhere."""
        await self.start_test_clock()
        tasks = [asyncio.create_task(self.dispatcher(concurrency).run(self._stop))]
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
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome

    def request_stop(self) -> None:
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

    def app(self, *, run_worker: bool) -> ASGIApp:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            await self.start_test_clock()
            if run_worker:
                await self.start_worker()
            try:
                yield
            finally:
                await self.stop()

        return create_app(self.api_state(), lifespan=lifespan)


def app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` in multi-process mode: settings come from the environment.

    Each API process is started afresh (spawned), so this is its entry point: it configures logging.
    """
    settings = Settings.from_env()
    logs.configure(settings.log_level, settings.log_format)
    return Runtime.build(settings).app(run_worker=settings.run_worker)
