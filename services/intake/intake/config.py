"""Settings of the intake service: environment variables prefixed INTAKE_."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from appeals_contracts import topics
from appeals_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    port: int = 8000
    db_schema: str = "intake"
    consumer_group: str = "intake"
    kafka_username: str = "svc-intake"
    kafka_password_file: Path | None = Path(".local/kafka/secrets/svc-intake/password")
    pool_max_size: int = 20
    registration_prefix: str = "KRG"
    max_body_bytes: int = 256 * 1024
    # Where AppealReceived goes; benchmarks point it at a topic of their own.
    received_topic: str = topics.APPEAL_RECEIVED
