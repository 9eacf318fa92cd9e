"""Contracts of the appeals platform: envelope, topics, event types and public payloads."""
