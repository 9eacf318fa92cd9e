"""Settings of the routing service: environment variables prefixed ROUTING_."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from appeals_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore")

    port: int = 8001
    db_schema: str = "routing"
    consumer_group: str = "routing"
