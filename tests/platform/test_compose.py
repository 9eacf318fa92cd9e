"""docker-compose.yml gives every service every setting it needs, under the right names."""

from __future__ import annotations

from pathlib import Path

import yaml

from deadlines.config import Settings as DeadlinesSettings
from intake.config import Settings as IntakeSettings
from routing.config import Settings as RoutingSettings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED = ("host", "port", "database_url", "kafka_bootstrap_servers", "jwt_public_key_file")


def test_every_service_gets_its_connection_settings_and_its_port() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    for name, settings in (
        ("intake", IntakeSettings),
        ("routing", RoutingSettings),
        ("deadlines", DeadlinesSettings),
    ):
        service = compose["services"][name]
        env = service["environment"]
        prefix = str(settings.model_config.get("env_prefix"))
        for field in REQUIRED:
            assert f"{prefix}{field.upper()}" in env, (name, field)
        known = {f"{prefix}{field.upper()}" for field in settings.model_fields}
        assert set(env) <= known, (name, set(env) - known)
        port = settings.model_fields["port"].default
        assert env[f"{prefix}PORT"] == str(port)
        assert f"{port}:{port}" in service["ports"]
        assert service["command"] == ["python", "-m", name]
        assert "healthcheck" in service


def test_compose_runs_kafka_in_kraft_mode_and_creates_topics() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "topics" in compose["services"]["topics"]["command"]
