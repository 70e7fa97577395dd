"""The tracing port: spans around the steps of an Action's life, from its request to its status callbacks.

A Protocol with a no-op default (``NoTracer``), so traced code never asks
whether anyone listens; ``runtime`` plugs in the OpenTelemetry adapter
(``telemetry.otel``) when ORCHESTRION_TRACING is on. A span started with
``parent`` (a W3C traceparent, from a request header or an outbox row)
continues that trace; without it, it is a child of the current span, if any.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Protocol

Attribute = str | int | float | bool


class Span(Protocol):
    # False for a span nobody records (tracing off, or sampled out): callers may skip work meant only for it.
    recording: bool

    def set(self, key: str, value: Attribute) -> None:
        """Record an attribute learnt while the span runs (a status code, a message SID)."""
        ...

    def rename(self, name: str) -> None:
        """Name the span by what was learnt while it ran (an HTTP request's route template)."""
        ...


class Tracer(Protocol):
    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> contextlib.AbstractContextManager[Span]: ...

    def shutdown(self) -> None:
        """Export what is left (at exit)."""
        ...


class _NoSpan:
    recording = False

    def set(self, key: str, value: Attribute) -> None:
        return None

    def rename(self, name: str) -> None:
        return None


_NO_SPAN = _NoSpan()


class NoTracer:
    """Traces nothing: the default."""

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> Iterator[Span]:
        yield _NO_SPAN

    def shutdown(self) -> None:
        return None
