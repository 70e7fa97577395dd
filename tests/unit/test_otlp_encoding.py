"""The direct OTLP encoder writes the message the OpenTelemetry exporter's own encoder makes."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from orchestrion.telemetry.otlp_encoding import encode_spans

RESOURCE = Resource({"service.name": "orchestrion", "host.cores": 2, "tags": ("a", "b")}, "https://schema/1")
SCOPE = InstrumentationScope("orchestrion", "1.0", "https://schema/2")
SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def span(name: str, span_id: int, **fields: object) -> ReadableSpan:
    defaults: dict[str, object] = {
        "context": SpanContext(0x0AF7651916CD43DD8448EB211C80319C, span_id, False, SAMPLED),
        "resource": RESOURCE,
        "instrumentation_scope": SCOPE,
        "start_time": 1_774_866_600_000_000_000,
        "end_time": 1_774_866_600_000_250_000,
    }
    return ReadableSpan(name, **{**defaults, **fields})  # type: ignore[arg-type]


def same_message(spans: list[ReadableSpan]) -> None:
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode_spans(spans)


def test_a_request_span_with_every_attribute_type_encodes_as_the_sdk_does() -> None:
    attributes = {
        "http.route": "/v2/Conversations/{ConversationId}/Actions",
        "http.response.status_code": 202,
        "negative": -7,
        "big": 2**62,
        "ratio": 0.25,
        "flag": False,
        "ids": ["a", "é"],
        "codes": (1, 2),
        "empty": "",
    }
    same_message([span("GET /v2/Conversations/{ConversationId}", 0x1, attributes=attributes, kind=SpanKind.SERVER)])


def test_a_child_of_a_remote_parent_keeps_the_parent_id_and_its_remoteness() -> None:
    parent = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, SAMPLED)
    local = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x2, False, SAMPLED)
    same_message([span("job action.send", 0x3, parent=parent), span("provider.send", 0x4, parent=local)])


def test_a_failed_span_keeps_its_status_and_exception_event() -> None:
    event = Event("exception", {"exception.type": "ValueError", "exception.escaped": "False"}, 1_774_866_600_1)
    same_message([span("status_callback", 0x5, status=Status(StatusCode.ERROR, "ValueError: no"), events=[event])])


def test_links_trace_state_and_names_beyond_ascii_encode_as_the_sdk_does() -> None:
    state = TraceState([("vendor", "value")])
    linked = SpanContext(0x1234, 0x5678, True, SAMPLED, state)
    context = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x6, False, SAMPLED, state)
    same_message([span("envoi été 🚀", 0x6, context=context, links=[Link(linked, {"why": "retry"})])])


def test_spans_of_several_resources_and_scopes_are_grouped_by_each() -> None:
    other_resource = Resource({"service.name": "worker"})
    other_scope = InstrumentationScope("other")
    same_message(
        [
            span("a", 0x7),
            span("b", 0x8, instrumentation_scope=other_scope),
            span("c", 0x9, resource=other_resource),
            span("d", 0xA, instrumentation_scope=None),
        ]
    )
