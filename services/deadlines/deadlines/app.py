"""Deadlines: legal clocks, alerts, compliance and the monitoring dashboard."""

from __future__ import annotations

from fastapi import FastAPI

from appeals_platform.runtime import Runtime, service_app
from deadlines.config import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = Runtime.create("deadlines", settings, "deadlines.migrations")
    return service_app(
        runtime,
        [],
        title="Appeals deadlines",
        description="Legal clocks on the Kazakhstan working-day calendar, alerts, compliance.",
    )
