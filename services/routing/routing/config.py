"""Settings of the routing service: environment variables prefixed ROUTING_."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from appeals_contracts import topics
from appeals_platform.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_", extra="ignore")

    port: int = 8001
    db_schema: str = "routing"
    consumer_group: str = "routing"
    kafka_username: str = "svc-routing"
    kafka_password_file: Path | None = Path(".local/kafka/secrets/svc-routing/password")
    # The topic of AppealReceived events; the benchmark points it at a topic of its own.
    appeals_topic: str = topics.APPEAL_RECEIVED
    # Intake's answers: an answered appeal takes no redirect.
    answers_topic: str = topics.ANSWER_GIVEN
    # Appeals per consumed batch (one transaction) and per chunk decided and written at once;
    # HTTP requests wait at most one chunk (about 0.1 s of a backlog). Larger than 1000/500:
    # bench-routing ran ~7 % faster at the same CPU per appeal (fewer commits and statements,
    # less time with all instances waiting; measured 2 Dec 2026).
    consumer_batch_size: int = 2000
    decision_chunk_size: int = 1000
    # Below this confidence an appeal goes to triage instead of an agency.
    decision_threshold: float = 0.5
    # The redirect that would be an appeal's n-th goes to triage instead: a ping-pong guard.
    redirect_limit: int = 3
    # `routing retrain` writes here; the service loads it if present, else the packaged model.
    model_path: Path = Path(".local/routing/category-classifier.joblib")
    # How often each instance looks for a new active reference version and a new model file.
    refresh_interval: float = 2.0
