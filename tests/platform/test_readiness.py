"""`/ready`: 503 when an essential dependency does not answer, 200 "degraded" when only one the
HTTP API can do without (Kafka by default: events wait in the outbox)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from appeals_platform.api import ReadinessCheck, health_router


async def fine() -> str | None:
    return None


async def broken() -> str | None:
    raise ConnectionRefusedError("connect call failed")


def ready(
    checks: dict[str, ReadinessCheck], optional: tuple[str, ...] = ("kafka",)
) -> tuple[int, dict[str, Any]]:
    app = FastAPI()
    app.include_router(health_router("svc", checks, optional=optional))
    answer = TestClient(app).get("/ready")
    return answer.status_code, answer.json()


def test_all_answering_is_ready() -> None:
    assert ready({"postgres": fine, "kafka": fine}) == (
        200,
        {"status": "ready", "service": "svc", "checks": {"postgres": "ok", "kafka": "ok"}},
    )


def test_kafka_away_is_degraded_but_stays_in_service() -> None:
    status, body = ready({"postgres": fine, "kafka": broken})
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"] == {
        "postgres": "ok",
        "kafka": "degraded: ConnectionRefusedError: connect call failed",
    }


def test_postgres_away_is_not_ready() -> None:
    status, body = ready({"postgres": broken, "kafka": broken})
    assert status == 503 and body["status"] == "not ready"
    assert body["checks"]["postgres"] == "ConnectionRefusedError: connect call failed"


def test_a_service_may_need_kafka_to_be_ready() -> None:
    status, body = ready({"postgres": fine, "kafka": broken}, optional=())
    assert status == 503 and body["status"] == "not ready"
