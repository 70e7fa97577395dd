"""The outbox dispatcher: claim, run, retry with backoff, recover leases."""
