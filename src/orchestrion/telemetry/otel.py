"""The tracing port with OpenTelemetry (the optional ``orchestrion[otel]`` extra).

Spans are exported by OTLP over HTTP; the exporter reads the standard
variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ...), and ``OTEL_SERVICE_NAME`` names the
service (``orchestrion`` by default). While a span is current its traceparent
is in ``domain.tracecontext.TRACEPARENT``, so the outbox and the webhook
sender carry it without knowing about OpenTelemetry.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orchestrion.domain.tracecontext import TRACEPARENT

# services.tracing.Attribute (an adapter does not import the services it serves: the port is structural).
Attribute = str | int | float | bool

_PROPAGATOR = TraceContextTextMapPropagator()


class _OtelSpan:
    def __init__(self, span: Any) -> None:
        self._span = span

    def set(self, key: str, value: Attribute) -> None:
        self._span.set_attribute(key, value)

    def rename(self, name: str) -> None:
        self._span.update_name(name)


def _traceparent(span: Any) -> str:
    """W3C trace context, version 00, of ``span``."""
    c = span.get_span_context()
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{int(c.trace_flags):02x}"


class OtelTracer:
    """``services.tracing.Tracer`` over an OpenTelemetry ``TracerProvider`` of its own (never the global one)."""

    def __init__(self, processor: SpanProcessor, service_name: str | None = None) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "orchestrion"
        self._provider = TracerProvider(resource=Resource.create({"service.name": name}))
        self._provider.add_span_processor(processor)
        self._tracer = self._provider.get_tracer("orchestrion")

    @classmethod
    def otlp(cls) -> OtelTracer:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls(BatchSpanProcessor(OTLPSpanExporter()))

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> Iterator[_OtelSpan]:
        context = _PROPAGATOR.extract({"traceparent": parent}) if parent else None
        with self._tracer.start_as_current_span(
            name, context=context, attributes=dict(attributes or {}), record_exception=True
        ) as span:
            token = TRACEPARENT.set(partial(_traceparent, span))
            try:
                yield _OtelSpan(span)
            finally:
                TRACEPARENT.reset(token)

    def shutdown(self) -> None:
        self._provider.shutdown()
