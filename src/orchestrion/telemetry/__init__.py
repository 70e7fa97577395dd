"""Telemetry adapters: the services' metrics port (``services.metrics``) implemented with Prometheus."""
