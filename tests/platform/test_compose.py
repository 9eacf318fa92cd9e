"""docker-compose.yml gives every service every setting it needs, under the right names."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from appeals_tools.stack.kafka import kafka_version, write_compose_config
from deadlines.config import Settings as DeadlinesSettings
from intake.config import Settings as IntakeSettings
from routing.config import Settings as RoutingSettings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
REQUIRED = (
    "host",
    "port",
    "database_url",
    "kafka_bootstrap_servers",
    "kafka_username",
    "kafka_password_file",
    "jwt_jwks_file",
)


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


def test_compose_postgres_asks_for_passwords_and_each_service_logs_in_as_its_own_role() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    postgres = compose["services"]["postgres"]["environment"]
    assert "trust" not in str(postgres) and postgres["POSTGRES_PASSWORD_FILE"]
    assert postgres["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    for name in ("intake", "routing", "deadlines"):
        service = compose["services"][name]
        env = service["environment"]
        prefix = name.upper()
        assert env[f"{prefix}_DATABASE_URL"].startswith(f"postgresql://{name}@")
        assert env[f"{prefix}_DATABASE_PASSWORD_FILE"] == f"/pg-secrets/{name}/pg-{name}"
        # Each service mounts only its own password's folder.
        mounted = [v for v in service["volumes"] if isinstance(v, dict)]
        assert [v["volume"]["subpath"] for v in mounted if v["source"] == "pg-secrets"] == [name]
    assert "roles" in compose["services"]["db-roles"]["command"]


def test_compose_runs_the_projects_kafka_version_with_the_local_stacks_configuration() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{kafka_version(COMPOSE.parent)}"
    assert "/kafka-secrets/broker/server.properties" in kafka["command"][0]
    assert "--add-scram" in kafka["command"][0]
    assert "compose-config" in compose["services"]["kafka-config"]["command"]
    assert "provision" in compose["services"]["provision"]["command"]


def test_compose_mounts_each_service_only_its_own_kafka_password(tmp_path: Path) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    for name in ("intake", "routing", "deadlines"):
        service = compose["services"][name]
        [secrets] = [
            v for v in service["volumes"] if isinstance(v, dict) and v["source"] == "kafka-secrets"
        ]
        assert secrets["volume"]["subpath"] == f"svc-{name}" and secrets["read_only"]
        password_file = service["environment"][f"{name.upper()}_KAFKA_PASSWORD_FILE"]
        assert password_file.startswith(secrets["target"] + "/")
    # What the set-up job writes: the broker's configuration, and the files named above.
    write_compose_config(COMPOSE.parent, tmp_path, owner=None)
    properties = (tmp_path / "broker" / "server.properties").read_text()
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert "advertised.listeners=CLIENT://kafka:9092" in properties
    assert not re.search(r"@[A-Z_]+@", properties)
    assert (tmp_path / "svc-intake" / "password").stat().st_mode & 0o077 == 0
