"""How every Kafka client of a service connects: one place for addresses and credentials.

Consumers, the outbox producer and admin clients all take `**client_options(settings)`, so
a change of how the platform reaches Kafka (SASL, TLS) is made here once.
"""

from __future__ import annotations

from typing import Any, Protocol


class KafkaSettings(Protocol):
    @property
    def kafka_bootstrap_servers(self) -> str: ...


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers}
