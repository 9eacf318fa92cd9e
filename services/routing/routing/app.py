"""Routing: consumes AppealReceived, decides the addressee, publishes assignments."""

from __future__ import annotations

from fastapi import FastAPI

from appeals_platform.runtime import Runtime, service_app
from routing.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime.create("routing", settings, "routing.migrations")
    return service_app(
        runtime,
        [],
        title="Appeals routing",
        description="Automatic determination of the addressee agency, triage and redirects.",
    )
