"""The metrics port with prometheus-client, and the ``/metrics`` text it serves.

One process: the series live in a private registry (a private one, so that
several runtimes in one process, as in the tests, never collide).

Several processes (``serve --workers N``): prometheus-client's multiprocess
mode. Each process writes its values to memory-mapped files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, which ``cli`` creates per run and removes at
exit), and a scrape, answered by any one process, adds up every process's
files, those of processes that have exited included, so counts never go
backwards when uvicorn replaces a worker. prometheus-client picks the mode
when it is first imported, from that environment variable: ``check_mode``
refuses a process where the two disagree instead of serving wrong numbers.

The HTTP request series, paid for by every request, are kept apart
(``telemetry.requests``) in the cheapest form each mode allows.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from orchestrion.telemetry.requests import LocalRequests, SharedRequests


@contextlib.contextmanager
def multiprocess_directory(given: str | None) -> Iterator[str]:
    """The directory this run's processes share their metrics through.

    ``given`` (PROMETHEUS_MULTIPROC_DIR set by the operator): emptied of an
    earlier run's files, as prometheus-client requires, and kept. None: a new
    temporary directory, removed when the run ends.
    """
    if given is not None:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield str(directory)
        return
    made = tempfile.mkdtemp(prefix="orchestrion-metrics-")
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


class MetricsModeError(RuntimeError):
    """prometheus-client was imported in a mode other than the settings ask for."""


def check_mode(multiprocess_dir: str | None) -> None:
    in_multiprocess = values.ValueClass is not values.MutexValue
    if in_multiprocess != (multiprocess_dir is not None):
        raise MetricsModeError(
            "prometheus-client chose its mode before PROMETHEUS_MULTIPROC_DIR was set: "
            "set it in the environment before the process starts"
        )


ACTION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class PrometheusMetrics:
    """``services.metrics.Metrics`` as Prometheus series, and their exposition."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        check_mode(multiprocess_dir)
        if multiprocess_dir is not None:
            # prometheus-client writes there on the first count of each series, and fails if it is missing.
            Path(multiprocess_dir).mkdir(parents=True, exist_ok=True)
        self._multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        self._requests = LocalRequests(self.registry) if multiprocess_dir is None else SharedRequests(self.registry)
        self._inbound = Counter(
            "orchestrion_inbound_messages",
            "Captured traffic by direction (inbound, outbound) and outcome (captured, duplicate, ignored)",
            ["direction", "outcome"],
            registry=self.registry,
        )
        self._refusals = Counter(
            "orchestrion_rate_limit_refusals",
            "Requests refused with 429, by the limit that refused them",
            ["limit"],
            registry=self.registry,
        )

        self._actions_created = Counter(
            "orchestrion_actions_created", "Actions accepted, by channel", ["channel"], registry=self.registry
        )
        self._actions_finished = Counter(
            "orchestrion_actions_finished",
            "Actions that reached COMPLETED or FAILED, by channel, status and failure code (none when completed)",
            ["channel", "status", "code"],
            registry=self.registry,
        )
        self._action_seconds = Histogram(
            "orchestrion_action_duration_seconds",
            "From an Action's creation to COMPLETED or FAILED",
            ["status"],
            buckets=ACTION_BUCKETS,
            registry=self.registry,
        )
        self._job_lag = Histogram(
            "orchestrion_dispatch_lag_seconds",
            "From when a job was due to when an attempt of it started, by kind",
            ["kind"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self._job_retries = Counter(
            "orchestrion_job_retries",
            "Job attempts that failed and were scheduled again",
            ["kind"],
            registry=self.registry,
        )
        self._job_dead = Counter(
            "orchestrion_jobs_given_up", "Jobs that failed for good (dead letters)", ["kind"], registry=self.registry
        )
        self._webhooks = Histogram(
            "orchestrion_webhook_attempt_duration_seconds",
            "Status-callback requests by outcome (delivered, failed, refused) and their latency",
            ["outcome"],
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.record(route, method, status, seconds)

    def action_created(self, channel: str) -> None:
        self._actions_created.labels(channel).inc()

    def action_finished(self, channel: str, status: str, code: str, seconds: float) -> None:
        self._actions_finished.labels(channel, status, code).inc()
        self._action_seconds.labels(status).observe(seconds)

    def job_started(self, kind: str, lag_seconds: float) -> None:
        self._job_lag.labels(kind).observe(lag_seconds)

    def job_retried(self, kind: str) -> None:
        self._job_retries.labels(kind).inc()

    def job_given_up(self, kind: str) -> None:
        self._job_dead.labels(kind).inc()

    def webhook_attempt(self, outcome: str, seconds: float) -> None:
        self._webhooks.labels(outcome).observe(seconds)

    def inbound_message(self, direction: str, outcome: str) -> None:
        self._inbound.labels(direction, outcome).inc()

    def rate_limited(self, limit: str) -> None:
        self._refusals.labels(limit).inc()

    def render(self, outbox: Mapping[str, tuple[int, int]] | None = None) -> tuple[bytes, str]:
        """The exposition text (every process's values in multiprocess mode) and its content type.

        ``outbox`` (per job kind: waiting, dead) is read from the database at scrape time: one value for
        the whole deployment, whichever process answers, so it is a gauge no process keeps.
        """
        gauges = CollectorRegistry()
        gauges.register(_Outbox(outbox or {}))
        if self._multiprocess_dir is None:
            return generate_latest(self.registry) + generate_latest(gauges), CONTENT_TYPE_LATEST
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged) + generate_latest(gauges), CONTENT_TYPE_LATEST


class _Outbox(Collector):
    def __init__(self, depth: Mapping[str, tuple[int, int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily("orchestrion_outbox_jobs", "Jobs in the outbox now, by kind", labels=["kind"])
        dead = GaugeMetricFamily("orchestrion_dead_jobs", "Dead letters now, by kind", labels=["kind"])
        for kind, (count, buried) in sorted(self._depth.items()):
            waiting.add_metric([kind], count)
            dead.add_metric([kind], buried)
        yield waiting
        yield dead
