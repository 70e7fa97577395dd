"""The HTTP edge: routes, wire schemas, auth, errors, pagination, idempotency."""
