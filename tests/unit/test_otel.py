"""The OpenTelemetry tracer: the SDK's spans, parents and sampling, by a lean path; OTLP export to a real collector."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, StatusCode, TraceState

from orchestrion.domain.tracecontext import current_traceparent
from orchestrion.telemetry.otel import FastOTLPSpanExporter, OtelTracer

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def tracer(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, sampler: str = "", arg: str = ""
) -> OtelTracer:
    if sampler:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    return OtelTracer(SimpleSpanProcessor(exported))


def test_a_span_inside_another_is_its_child_in_the_same_trace(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = tracer(exported, monkeypatch)
    with t.span("HTTP POST", {"http.request.method": "POST"}) as outer:
        with t.span("action.create", {"conversation.id": "conv_1"}) as inner:
            inner.set("action.id", "action_1")
            traceparent = current_traceparent()
        outer.rename("POST /v2/Conversations/{ConversationId}/Actions")
    child, root = exported.get_finished_spans()
    assert root.name == "POST /v2/Conversations/{ConversationId}/Actions"
    assert root.parent is None and dict(root.attributes or {}) == {"http.request.method": "POST"}
    assert child.parent is not None and child.parent.span_id == root.context.span_id and not child.parent.is_remote
    assert child.context.trace_id == root.context.trace_id
    assert dict(child.attributes or {}) == {"conversation.id": "conv_1", "action.id": "action_1"}
    assert traceparent == f"00-{child.context.trace_id:032x}-{child.context.span_id:016x}-01"
    assert child.start_time is not None and child.end_time is not None and child.start_time <= child.end_time
    assert child.resource.attributes["service.name"] == "orchestrion"
    assert current_traceparent() is None


def test_a_span_with_a_traceparent_continues_that_trace_as_a_child_of_a_remote_parent(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tracer(exported, monkeypatch).span("job action.send", parent=CALLER):
        pass
    (span,) = exported.get_finished_spans()
    assert span.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert span.parent is not None and span.parent.span_id == 0xB7AD6B7169203331 and span.parent.is_remote


@pytest.mark.parametrize("traceparent", ["garbage", "00-" + "0" * 32 + "-b7ad6b7169203331-01", "00-xyz-abc-01"])
def test_a_malformed_traceparent_starts_a_new_trace(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, traceparent: str
) -> None:
    with tracer(exported, monkeypatch).span("HTTP GET", parent=traceparent):
        pass
    (span,) = exported.get_finished_spans()
    assert span.parent is None and span.context.trace_id != 0


def test_an_exception_is_recorded_as_the_sdk_records_it(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError), tracer(exported, monkeypatch).span("provider.send"):
        raise ValueError("refused")
    (span,) = exported.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "ValueError: refused"
    (event,) = span.events
    attributes = dict(event.attributes or {})
    assert event.name == "exception" and attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "refused" and attributes["exception.escaped"] == "False"
    assert "raise ValueError" in str(attributes["exception.stacktrace"])


def test_a_trace_the_sampler_leaves_out_records_nothing_and_passes_on_its_decision(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = tracer(exported, monkeypatch, "parentbased_traceidratio", "0")
    with t.span("HTTP POST") as outer, t.span("action.create") as inner:
        outer.set("http.route", "/")
        traceparent = current_traceparent()
    assert not outer.recording and not inner.recording
    assert traceparent is not None and traceparent.endswith("-00")
    with t.span("job action.send", parent=CALLER):  # a sampled caller's trace is followed
        pass
    assert [s.name for s in exported.get_finished_spans()] == ["job action.send"]


def test_a_job_of_a_sampled_out_trace_is_not_sampled_even_when_the_root_sampler_would(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tracer(exported, monkeypatch).span("job action.send", parent=CALLER[:-2] + "00") as span:
        assert not span.recording
    assert exported.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("sampler", "arg"),
    [("parentbased_traceidratio", "0.3"), ("traceidratio", "0.3"), ("always_on", ""), ("parentbased_always_off", "")],
)
def test_the_sampling_decision_is_the_configured_samplers(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, sampler: str, arg: str
) -> None:
    t = tracer(exported, monkeypatch, sampler, arg)
    sdk_sampler = TracerProvider().sampler  # made from the same variables
    ids = random.Random(7)
    for parent_flags in ("", "-01", "-00"):
        for _ in range(200):
            trace_id = ids.getrandbits(128) or 1
            parent = f"00-{trace_id:032x}-b7ad6b7169203331{parent_flags}" if parent_flags else None
            exported.clear()
            with t.span("x", parent=parent) as span:
                trace = int((current_traceparent() or "").split("-")[1], 16)
            expected = sdk_sampler.should_sample(_context(parent), trace, "x").decision is Decision.RECORD_AND_SAMPLE
            assert span.recording is expected and len(exported.get_finished_spans()) == int(expected)


def _context(parent: str | None) -> Context:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": parent}) if parent else Context()


class _Tagging(Sampler):
    """A sampler of one's own: called for each root span, and its attributes recorded."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if name.startswith("keep") else Decision.DROP
        return SamplingResult(decision, {"sampled.by": "tagging"})

    def get_description(self) -> str:
        return "Tagging"


def test_any_other_sampler_is_asked_and_its_attributes_recorded(
    exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = tracer(exported, monkeypatch)
    monkeypatch.setattr(t, "_sampler", _Tagging())
    monkeypatch.setattr(t, "_quick", None)
    for name in ("keep me", "drop me"):
        with t.span(name, {"a": 1}, parent=CALLER):
            pass
    (span,) = exported.get_finished_spans()
    assert span.name == "keep me" and dict(span.attributes or {}) == {"a": 1, "sampled.by": "tagging"}


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        _Collector.bodies.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.bodies.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_exported_by_otlp_http_to_the_collector(collector: str) -> None:
    t = OtelTracer(SimpleSpanProcessor(FastOTLPSpanExporter(endpoint=collector, timeout=5)), service_name="svc")
    with t.span("HTTP GET", {"http.request.method": "GET"}, parent=CALLER) as span:
        span.set("http.response.status_code", 200)
    t.shutdown()
    (body,) = _Collector.bodies
    (resource_spans,) = ExportTraceServiceRequest.FromString(body).resource_spans
    assert any(a.key == "service.name" and a.value.string_value == "svc" for a in resource_spans.resource.attributes)
    (sent,) = resource_spans.scope_spans[0].spans
    assert sent.name == "HTTP GET" and sent.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert {a.key: a.value.int_value or a.value.string_value for a in sent.attributes} == {
        "http.request.method": "GET",
        "http.response.status_code": 200,
    }
