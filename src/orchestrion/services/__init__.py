"""Use cases: what the API and the dispatcher ask of the orchestrator."""
