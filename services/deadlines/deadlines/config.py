"""Settings of the deadlines service: environment variables prefixed DEADLINES_."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from appeals_contracts import topics
from appeals_platform.settings import ServiceSettings

Policy = Literal["restart", "continue"]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEADLINES_", extra="ignore")

    port: int = 8002
    db_schema: str = "deadlines"
    consumer_group: str = "deadlines"
    kafka_username: str = "svc-deadlines"
    kafka_password_file: Path | None = Path(".local/kafka/secrets/svc-deadlines/password")

    # After a redirect the term restarts from the new agency's receipt (АППК arts. 65, 76:
    # the competent body initiates the procedure); "continue" keeps the original due date.
    redirect_policy: Policy = "restart"
    rules_file: Path | None = None
    reference_dir: Path | None = None

    ticker_enabled: bool = True
    ticker_interval: float = Field(default=1.0, gt=0)
    ticker_batch_size: int = Field(default=1000, ge=1, le=10_000)
    # Demo history only: how long a clock opened with an alert already due waits (Context).
    history_settle_seconds: float = Field(default=300.0, gt=0)

    # A dashboard session ends after this long at most (sooner when its token expires).
    dashboard_session_hours: float = Field(default=8.0, gt=0, le=12)

    # Compliance rows with fewer answered + open-overdue clocks than this are flagged.
    min_sample: int = Field(default=10, ge=1)

    # Where the open-data index points readers for the published appeals themselves: intake's
    # public, redacted Open311 list (deadlines does not hold appeal texts).
    open311_url: str = "http://localhost:8000/open311/v2/requests.json"

    # Routing's HTTP API, which the dashboard's what-if page calls with the operator's own
    # token (routing replays the stored appeals; deadlines holds none of their texts).
    routing_url: str = "http://127.0.0.1:8001"
    routing_timeout: float = Field(default=120.0, gt=0)

    # Optional delivery of every alert to an HTTP endpoint (a separate consumer group).
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_initial: float = Field(default=0.5, ge=0)
    webhook_backoff_max: float = Field(default=60.0, ge=0)
    # A webhook added to a running system starts with new alerts, not the topic's history.
    webhook_offset_reset: Literal["earliest", "latest"] = "latest"

    # Daily digests by email (deadlines.digests): who gets one (a YAML file of addresses,
    # kept out of the reference data because addresses change with people, not with
    # jurisdictions), the SMTP server, and the local hour after which a working day's
    # digests go out. No file: no digests.
    digest_recipients_file: Path | None = None
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_interval: float = Field(default=60.0, gt=0)
    digest_lease_seconds: float = Field(default=120.0, gt=0)
    digest_dashboard_url: str = "http://127.0.0.1:8002/dashboard"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_file: Path | None = None
    smtp_timeout: float = Field(default=10.0, gt=0)
    digest_from: str = "Appeals platform <no-reply@appeals.karaganda.kz>"

    # Forgotten inboxes (deadlines.inboxes): every `inbox_interval` seconds, each agency's
    # consumer groups are compared with the end of its assignment topic. An agency is stalled
    # when records stay unread for more than `inbox_lag_minutes` of working time (the working
    # hours of working days, Almaty time), or an assignment stays unconfirmed for more than
    # `inbox_unconfirmed_days` working days.
    inbox_watch_enabled: bool = True
    inbox_interval: float = Field(default=60.0, gt=0)
    inbox_lag_minutes: float = Field(default=30.0, ge=0)
    inbox_unconfirmed_days: float = Field(default=1, ge=0)
    working_hours_start: time = time(9)
    working_hours_end: time = time(18, 30)

    # Breach risk (deadlines.risk): every `risk_interval` seconds the open clocks are scored
    # with the newest model, retrained from the last `risk_history_days` of clocks when it is
    # older than `risk_train_hours`; a hop whose risk reaches `risk_threshold` gets one
    # kz.appeals.deadline.at-risk.v1.
    risk_enabled: bool = True
    risk_interval: float = Field(default=300.0, gt=0)
    risk_train_hours: float = Field(default=24.0, gt=0)
    risk_history_days: int = Field(default=730, ge=30)
    risk_threshold: float = Field(default=0.5, gt=0, le=1)

    # Topic names: the contracts' names; tests and replays point them elsewhere.
    assigned_topic: str = topics.APPEAL_ASSIGNED
    redirected_topic: str = topics.APPEAL_REDIRECTED
    answers_topic: str = topics.ANSWER_GIVEN
    deadline_events_topic: str = topics.DEADLINE_EVENTS
    alerts_topic: str = topics.ALERTS
