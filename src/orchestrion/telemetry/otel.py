"""The tracing port with OpenTelemetry (the optional ``orchestrion[otel]`` extra).

Spans are exported by OTLP over HTTP; the exporter reads the standard
variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_HEADERS``, ...), ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG`` choose the sampler, and ``OTEL_SERVICE_NAME`` names
the service (``orchestrion`` by default).

A lean path instead of the SDK's ``Tracer``: a span is a small object while it
runs, and the SDK's ``ReadableSpan`` is made only when a sampled span ends and
goes to the span processors. The SDK's tracer costs about 75 µs of CPU per span
(attribute validation under a lock, two context objects, a context-manager
stack), as much as a whole GET of an Action; this path a few µs, and an
unsampled span next to nothing. What it keeps: the provider's sampler
(consulted for a span with no parent in this process; a span whose parent runs
here follows its parent, as ``ParentBased`` would), its resource, its
processors, and what ``record_exception`` records. The current span lives in
``domain.tracecontext.TRACEPARENT`` (it formats its own traceparent when
asked), so the outbox and the webhook sender carry the trace without knowing
about OpenTelemetry; a sampled-out trace carries flags ``00`` there, so its
jobs are not sampled either.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextvars import Token
from types import TracebackType
from typing import Any, Self

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from orchestrion.domain.tracecontext import TRACEPARENT
from orchestrion.telemetry.otlp_encoding import encode_spans

# services.tracing.Attribute (an adapter does not import the services it serves: the port is structural).
Attribute = str | int | float | bool

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
_UNSET = Status(StatusCode.UNSET)


def _new_id(bits: int) -> int:
    return random.getrandbits(bits) or 1  # 0 is the invalid id


def _parse(traceparent: str) -> tuple[int, int, bool] | None:
    """A W3C traceparent (version 00 or later): (trace id, span id, sampled); None when it is malformed."""
    parts = traceparent.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or parts[0] == "ff" or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3][:2], 16)
    except ValueError:
        return None
    if not trace_id or not span_id or (parts[0] == "00" and len(parts) != 4):
        return None
    return trace_id, span_id, bool(flags & TraceFlags.SAMPLED)


_DELEGATES = ("remote_parent_sampled", "remote_parent_not_sampled", "local_parent_sampled", "local_parent_not_sampled")
# A sampler's decision from the trace id and the remote parent's sampled flag (None: no remote parent).
Decide = Callable[[int, bool | None], bool]


def _quick(sampler: Sampler) -> Decide | None:
    """The decision of ``sampler`` made without calling it, for the samplers OTEL_TRACES_SAMPLER names (the
    SDK's call costs more than the rest of an unsampled span); None for any other sampler, which is called."""
    follows_parent = isinstance(sampler, ParentBased)
    root: object = sampler
    if follows_parent:
        delegates = [
            getattr(sampler, f"_{d}_parent_{s}", None) for d in ("remote", "local") for s in ("sampled", "not_sampled")
        ]
        if delegates != [ALWAYS_ON, ALWAYS_OFF, ALWAYS_ON, ALWAYS_OFF]:
            return None
        root = getattr(sampler, "_root", None)
    if root is ALWAYS_ON or root is ALWAYS_OFF:
        constant = root is ALWAYS_ON
        decide_root: Callable[[int], bool] = lambda _trace_id: constant  # noqa: E731
    elif type(root) is TraceIdRatioBased:
        bound = root.bound
        decide_root = lambda trace_id: trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound  # noqa: E731
    else:
        return None
    if follows_parent:
        return lambda trace_id, parent: decide_root(trace_id) if parent is None else parent
    return lambda trace_id, _parent: decide_root(trace_id)


class _Current:
    """A span while it runs: the current one in ``TRACEPARENT``, which it formats when asked."""

    __slots__ = ("_token", "span_id", "trace_id")
    sampled = recording = False

    def __init__(self, trace_id: int, span_id: int) -> None:
        self.trace_id = trace_id
        self.span_id = span_id

    def __call__(self) -> str:
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{'01' if self.sampled else '00'}"

    def __enter__(self) -> Self:
        self._token: Token[Any] = TRACEPARENT.set(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        TRACEPARENT.reset(self._token)


class _Unsampled(_Current):
    """A span the sampler left out: it records nothing, but its ids travel so that its children follow it."""

    __slots__ = ()

    def set(self, key: str, value: Attribute) -> None:
        return None

    def rename(self, name: str) -> None:
        return None


class _Recording(_Current):
    """A sampled span while it runs; it becomes the SDK's ``ReadableSpan`` when it ends."""

    __slots__ = ("_tracer", "attributes", "name", "parent", "start")
    sampled = recording = True

    def __init__(
        self, tracer: OtelTracer, name: str, attributes: dict[str, Any], trace_id: int, parent: SpanContext | None
    ) -> None:
        super().__init__(trace_id, _new_id(64))
        self._tracer = tracer
        self.name = name
        self.attributes = attributes
        self.parent = parent
        self.start = time.time_ns()

    def set(self, key: str, value: Attribute) -> None:
        self.attributes[key] = value

    def rename(self, name: str) -> None:
        self.name = name

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        TRACEPARENT.reset(self._token)
        self._tracer.end(self, error)


def _failure(error: BaseException) -> tuple[Status, Sequence[Event]]:
    """What the SDK's ``record_exception`` and ``set_status_on_exception`` record for ``error``."""
    kind = type(error)
    module = kind.__module__
    event = Event(
        "exception",
        {
            "exception.type": f"{module}.{kind.__qualname__}" if module and module != "builtins" else kind.__qualname__,
            "exception.message": str(error),
            "exception.stacktrace": "".join(traceback.format_exception(error)),
            "exception.escaped": "False",
        },
    )
    return Status(StatusCode.ERROR, f"{kind.__name__}: {error}"), (event,)


class OtelTracer:
    """``services.tracing.Tracer`` over an OpenTelemetry ``TracerProvider`` of its own (never the global one)."""

    def __init__(self, processor: SpanProcessor, service_name: str | None = None) -> None:
        name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "orchestrion"
        self._provider = TracerProvider(resource=Resource.create({"service.name": name}))
        self._provider.add_span_processor(processor)
        self._processor = processor
        self._sampler = self._provider.sampler
        self._quick = _quick(self._sampler)
        self._resource = self._provider.resource
        self._scope = InstrumentationScope("orchestrion")

    @classmethod
    def otlp(cls) -> OtelTracer:
        return cls(BatchSpanProcessor(FastOTLPSpanExporter()))

    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> _Recording | _Unsampled:
        current = TRACEPARENT.get()
        if parent is None and isinstance(current, _Current):  # a child of a span in this process
            if not current.sampled:
                return _Unsampled(current.trace_id, _new_id(64))
            local = SpanContext(current.trace_id, current.span_id, is_remote=False, trace_flags=_SAMPLED)
            return _Recording(self, name, dict(attributes or ()), current.trace_id, local)
        remote = _parse(parent) if parent else None
        trace_id = remote[0] if remote is not None else _new_id(128)
        extra: Mapping[str, Any] | None = None
        if self._quick is not None:
            sampled = self._quick(trace_id, remote[2] if remote is not None else None)
        else:
            sampled, extra = self._sample(name, attributes, trace_id, remote)
        if not sampled:
            return _Unsampled(trace_id, _new_id(64))
        recorded = dict(attributes or ())
        if extra:
            recorded.update(extra)
        remote_context = None
        if remote is not None:
            flags = _SAMPLED if remote[2] else _NOT_SAMPLED
            remote_context = SpanContext(trace_id, remote[1], is_remote=True, trace_flags=flags)
        return _Recording(self, name, recorded, trace_id, remote_context)

    def _sample(
        self, name: str, attributes: Mapping[str, Attribute] | None, trace_id: int, remote: tuple[int, int, bool] | None
    ) -> tuple[bool, Mapping[str, Any] | None]:
        context = Context()
        if remote is not None:
            flags = _SAMPLED if remote[2] else _NOT_SAMPLED
            context = set_span_in_context(NonRecordingSpan(SpanContext(trace_id, remote[1], True, flags)))
        result = self._sampler.should_sample(context, trace_id, name, SpanKind.INTERNAL, attributes)
        # RECORD_ONLY spans would be exported by no one: they are left out as DROP ones are.
        return result.decision is Decision.RECORD_AND_SAMPLE, result.attributes

    def end(self, span: _Recording, error: BaseException | None) -> None:
        status, events = _failure(error) if error is not None else (_UNSET, ())
        context = SpanContext(span.trace_id, span.span_id, is_remote=False, trace_flags=_SAMPLED)
        ended = ReadableSpan(
            name=span.name,
            context=context,
            parent=span.parent,
            resource=self._resource,
            attributes=span.attributes,
            events=events,
            status=status,
            start_time=span.start,
            end_time=time.time_ns(),
            instrumentation_scope=self._scope,
        )
        self._processor.on_end(ended)

    def shutdown(self) -> None:
        self._provider.shutdown()


class FastOTLPSpanExporter(OTLPSpanExporter):
    """OpenTelemetry's OTLP/HTTP exporter (its settings, transport and retries) with ``otlp_encoding``'s encoder."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        result = self._client.export(encode_spans(spans))
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE
