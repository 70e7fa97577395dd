"""The one exception tree of Orchestrion.

Adapters wrap third-party errors into these; only the API layer maps them to
HTTP statuses and Twilio error codes.
"""

from __future__ import annotations


class OrchestrionError(Exception):
    """Base of every error Orchestrion raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(OrchestrionError):
    """The request is malformed or breaks a validation rule."""


class PayloadTooLarge(InvalidInput):
    """The request body is over the size limit."""


class NotFound(OrchestrionError):
    """The resource does not exist in the caller's account."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"The requested {kind} {ident} was not found")
        self.kind = kind
        self.ident = ident


class Conflict(OrchestrionError):
    """The request conflicts with an existing resource."""

    def __init__(self, message: str, conflicting_id: str | None = None) -> None:
        super().__init__(message)
        self.conflicting_id = conflicting_id


class InvalidState(OrchestrionError):
    """The resource is in a state that forbids the request (e.g. CLOSED)."""


class IdempotencyMismatch(OrchestrionError):
    """An Idempotency-Key was reused with a different request."""


class Unauthenticated(OrchestrionError):
    """Missing or wrong credentials."""


class Forbidden(OrchestrionError):
    """Authenticated, but this request may not be made (e.g. a console form without its CSRF token)."""


class RateLimited(OrchestrionError):
    """Too many requests; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int, concurrent: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.concurrent = concurrent


class StoreUnavailable(OrchestrionError):
    """The database could not serve the request (wrapped driver error)."""


class LeaseLost(OrchestrionError):
    """A job's run no longer holds its job (its lease ran out and another worker took it): it must not write."""


class ProviderError(OrchestrionError):
    """A downstream channel provider refused or failed a request.

    ``transient`` errors are retried with backoff; permanent ones fail the work.
    ``retry_after_s`` is the provider's own hint (an HTTP ``Retry-After``): the
    retry waits at least that long.
    """

    def __init__(
        self, message: str, *, transient: bool, code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.retry_after_s = retry_after_s
