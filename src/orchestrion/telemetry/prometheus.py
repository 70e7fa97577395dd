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
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector

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


class PrometheusMetrics:
    """``services.metrics.Metrics`` as Prometheus series, and their exposition."""

    def __init__(self, multiprocess_dir: str | None = None) -> None:
        check_mode(multiprocess_dir)
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

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.record(route, method, status, seconds)

    def inbound_message(self, direction: str, outcome: str) -> None:
        self._inbound.labels(direction, outcome).inc()

    def rate_limited(self, limit: str) -> None:
        self._refusals.labels(limit).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text (every process's values in multiprocess mode) and its content type."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged), CONTENT_TYPE_LATEST
