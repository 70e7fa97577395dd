"""Orchestrion: a self-hostable Conversation Orchestrator (Twilio Conversations API v2)."""

__version__ = "0.1.0"
