"""A Kafka of the test's own (state in a temporary folder, ports of its own), for the modes the
suite's one-broker stack does not run: three brokers, TLS, a broker stopped and started under a
service. `make test-kafka-modes` runs them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appeals_tools.stack import kafka
from appeals_tools.stack.layout import Layout
from tests.conftest import ROOT


@contextmanager
def own_kafka(home: Path, brokers: int) -> Iterator[Layout]:
    """Started like `appeals-stack up --infra [--brokers 3]` would, provisioned, then stopped."""
    layout = Layout(ROOT, home=home)
    for folder in (layout.local / "kafka", layout.run, layout.logs):
        folder.mkdir(parents=True)
    kafka.ensure_kafka_jars(Layout(ROOT))
    (layout.local / "kafka" / "libs").symlink_to(Layout(ROOT).kafka_libs)
    try:
        kafka.start_kafka(layout, brokers)
        kafka.provision(layout)
        yield layout
    finally:
        kafka.stop_kafka(layout)
