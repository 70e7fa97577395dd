"""The HTTP request series: the one metric every request pays for, so the cheapest way each mode allows.

``orchestrion_http_requests_total{route, method, status}`` and the histogram
``orchestrion_http_request_duration_seconds{route, method}``.

``LocalRequests`` (one process): plain numbers per (route, method, status),
bumped without a lock and turned into the two series only when scraped. The
numbers are touched on the event loop's thread only (the middleware and the
/metrics page both run there), so there is nothing to lock. A request costs a
dict lookup and three additions, where prometheus-client's ``Counter.inc``
and ``Histogram.observe`` take three locks (measured: bench/metrics_overhead.py).

``SharedRequests`` (several processes): prometheus-client's own value cells,
which in multiprocess mode live in memory-mapped files every process's scrape
adds up; bumped directly, three increments a request.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

REQUESTS = "orchestrion_http_requests"
REQUESTS_HELP = "HTTP requests answered, by route template, method and status"
LATENCY = "orchestrion_http_request_duration_seconds"
LATENCY_HELP = "Time to answer an HTTP request, by route template and method"
# Seconds: a polled GET takes well under a millisecond, a write a few; the tail up to the callback timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BOUNDS = (*LATENCY_BUCKETS, math.inf)
_LE = [floatToGoString(b) for b in BOUNDS]  # type: ignore[no-untyped-call]  # "0.0005", ..., "+Inf"

Key = tuple[str, str, int]  # route, method, status


class _Series:
    __slots__ = ("buckets", "count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * len(BOUNDS)  # per bucket, not cumulative


class LocalRequests(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._series: dict[Key, _Series] = {}
        registry.register(self)

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self._series.get((route, method, status))
        if series is None:
            series = self._series[(route, method, status)] = _Series()
        series.count += 1
        series.seconds += seconds
        series.buckets[bisect.bisect_left(BOUNDS, seconds)] += 1  # the first bucket whose bound is >= seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(REQUESTS, REQUESTS_HELP, labels=["route", "method", "status"])
        latency = HistogramMetricFamily(LATENCY, LATENCY_HELP, labels=["route", "method"])
        by_route: dict[tuple[str, str], _Series] = {}
        for (route, method, status), series in list(self._series.items()):
            requests.add_metric([route, method, str(status)], series.count)
            merged = by_route.setdefault((route, method), _Series())
            merged.seconds += series.seconds
            merged.buckets = [a + b for a, b in zip(merged.buckets, series.buckets, strict=True)]
        for (route, method), merged in by_route.items():
            cumulative = list(itertools.accumulate(merged.buckets))
            latency.add_metric([route, method], list(zip(_LE, cumulative, strict=True)), merged.seconds)
        yield requests
        yield latency


class SharedRequests:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(REQUESTS, REQUESTS_HELP, ["route", "method", "status"], registry=registry)
        self._latency = Histogram(
            LATENCY, LATENCY_HELP, ["route", "method"], buckets=LATENCY_BUCKETS, registry=registry
        )
        self._cells: dict[Key, tuple[Any, Any, list[Any]]] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        cells = self._cells.get((route, method, status))
        if cells is None:
            # The value cells behind Counter.inc and Histogram.observe (checks and the exemplar path skipped).
            counter = self._requests.labels(route, method, str(status))
            histogram = self._latency.labels(route, method)
            cells = self._cells[(route, method, status)] = (counter._value, histogram._sum, histogram._buckets)
        total, duration, buckets = cells
        total.inc(1)
        duration.inc(seconds)
        buckets[bisect.bisect_left(BOUNDS, seconds)].inc(1)
