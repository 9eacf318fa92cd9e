"""Settings of the deadlines service: environment variables prefixed DEADLINES_."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from appeals_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEADLINES_", extra="ignore")

    port: int = 8002
    db_schema: str = "deadlines"
    consumer_group: str = "deadlines"
