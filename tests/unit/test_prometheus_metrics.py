"""The Prometheus adapter (telemetry.prometheus) and how requests are labelled (api.metrics), without a server."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route

from orchestrion.api.metrics import UNMATCHED, route_template
from orchestrion.telemetry.prometheus import PrometheusMetrics


async def _ok(_request: Any) -> Response:
    return Response()


APP = Starlette(routes=[Route("/v2/Things/{id}", _ok), Mount("/static", app=_ok)])


def _scope(path: str, **extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "root_path": "", "app": APP, **extra}


def test_a_routed_request_is_labelled_by_its_route_template() -> None:
    route = APP.routes[0]
    assert route_template(_scope("/v2/Things/abc", route=route)) == "/v2/Things/{id}"


def test_a_request_refused_before_routing_is_matched_once_for_its_label() -> None:
    assert route_template(_scope("/v2/Things/xyz")) == "/v2/Things/{id}"
    assert route_template(_scope("/static/app.js")) == "/static"


def test_a_path_no_route_matches_is_one_label() -> None:
    assert route_template(_scope("/a/b/c")) == UNMATCHED == route_template(_scope("/d"))


def test_counts_and_latencies_come_out_in_the_exposition() -> None:
    metrics = PrometheusMetrics()
    for seconds in (0.0004, 0.003, 0.2):
        metrics.http_request("/v2/Things/{id}", "GET", 200, seconds)
    metrics.rate_limited("requests_per_second")
    metrics.inbound_message("inbound", "ignored")
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    labels = (("method", "GET"), ("route", "/v2/Things/{id}"))
    assert found[("orchestrion_http_requests_total", (*labels, ("status", "200")))] == 3
    assert found[("orchestrion_http_request_duration_seconds_bucket", (("le", "0.0005"), *labels))] == 1
    assert found[("orchestrion_http_request_duration_seconds_bucket", (("le", "0.005"), *labels))] == 2
    assert found[("orchestrion_rate_limit_refusals_total", (("limit", "requests_per_second"),))] == 1
    assert found[("orchestrion_inbound_messages_total", (("direction", "inbound"), ("outcome", "ignored")))] == 1


def test_two_adapters_in_one_process_count_apart() -> None:
    first, second = PrometheusMetrics(), PrometheusMetrics()
    first.rate_limited("concurrent_requests")
    assert b"orchestrion_rate_limit_refusals_total" in first.render()[0]
    assert b'limit="concurrent_requests"' not in second.render()[0]
