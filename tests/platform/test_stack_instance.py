"""A second stack instance beside `make run`'s: its own state folder and ports, by environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from appeals_tools.stack.layout import Layout
from appeals_tools.stack.postgres import pg_data_dir
from appeals_tools.stack.services import SERVICES, service_port


def test_without_a_state_folder_everything_lives_under_the_checkouts_local_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("APPEALS_STATE_DIR", raising=False)
    layout = Layout(tmp_path)
    assert layout.local == tmp_path / ".local"
    assert layout.pid_file("kafka") == tmp_path / ".local" / "run" / "kafka.pid"
    assert layout.kafka_data == tmp_path / ".local" / "kafka" / "data"


def test_a_state_folder_holds_data_pids_logs_and_keys_but_the_kafka_jars_stay_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APPEALS_STATE_DIR", ".local/chaos")
    layout = Layout(tmp_path)
    state = tmp_path / ".local" / "chaos"
    assert layout.local == state
    assert layout.pid_file("intake") == state / "run" / "intake.pid"
    assert layout.log_file("kafka-stdout") == state / "logs" / "kafka-stdout.log"
    assert layout.kafka_data == state / "kafka" / "data"
    assert layout.kafka_libs == tmp_path / ".local" / "kafka" / "libs"


def test_two_instances_never_share_a_postgres_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("APPEALS_STATE_DIR", raising=False)
    default = pg_data_dir(Layout(tmp_path))
    monkeypatch.setenv("APPEALS_STATE_DIR", ".local/chaos")
    assert pg_data_dir(Layout(tmp_path)) != default


def test_service_ports_default_to_make_runs_and_follow_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SERVICES:
        monkeypatch.delenv(f"APPEALS_{name.upper()}_PORT", raising=False)
    assert {name: service_port(name) for name in SERVICES} == {
        "intake": 8000,
        "routing": 8001,
        "deadlines": 8002,
    }
    monkeypatch.setenv("APPEALS_ROUTING_PORT", "20104")
    assert service_port("routing") == 20104
    assert service_port("intake") == 8000
