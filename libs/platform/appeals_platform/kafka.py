"""How every Kafka client of a service connects: one place for addresses and credentials.

Consumers, the outbox producer and admin clients all take `**client_options(settings)`;
FastStream's broker takes `security=faststream_security(settings)`. The platform's brokers
authenticate with SASL/SCRAM-SHA-512 (one principal per service, ACLs per principal), over
plain TCP or TLS (`SASL_SSL`, with the CA that signed the broker's certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
MECHANISM = "SCRAM-SHA-512"


class KafkaSettings(Protocol):
    @property
    def kafka_bootstrap_servers(self) -> str: ...
    @property
    def kafka_security_protocol(self) -> SecurityProtocol: ...
    @property
    def kafka_username(self) -> str: ...
    @property
    def kafka_password(self) -> SecretStr: ...
    @property
    def kafka_password_file(self) -> Path | None: ...
    @property
    def kafka_ca_file(self) -> Path | None: ...


@dataclass(frozen=True)
class KafkaAccess:
    """The Kafka part of the settings on its own, for tools and tests (same field names)."""

    kafka_bootstrap_servers: str
    kafka_username: str = ""
    kafka_password: SecretStr = field(default_factory=lambda: SecretStr(""))
    kafka_security_protocol: SecurityProtocol = "SASL_PLAINTEXT"
    kafka_password_file: Path | None = None
    kafka_ca_file: Path | None = None


def password(settings: KafkaSettings) -> str:
    """The password given, else the password file's content (a mounted secret, mode 0600)."""
    if given := settings.kafka_password.get_secret_value():
        return given
    if settings.kafka_password_file is not None:
        try:
            return settings.kafka_password_file.read_text().strip()
        except FileNotFoundError:
            raise ValueError(
                f"Kafka user {settings.kafka_username}: no password file at "
                f"{settings.kafka_password_file} (`appeals-stack up` writes them for the local "
                "stack; elsewhere set the password or the file)"
            ) from None
    return ""


def _sasl(settings: KafkaSettings) -> bool:
    if settings.kafka_security_protocol == "PLAINTEXT":
        return False
    if not settings.kafka_username:
        raise ValueError(
            f"kafka_security_protocol={settings.kafka_security_protocol} needs kafka_username "
            "and kafka_password (or kafka_password_file)"
        )
    return True


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """TLS towards the broker, verifying its certificate against the CA file (or the system's)."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    ca = settings.kafka_ca_file
    return ssl.create_default_context(cafile=str(ca) if ca is not None else None)


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (consumer, producer, admin)."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    if not _sasl(settings):
        return options
    options |= {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": password(settings),
    }
    if (context := ssl_context(settings)) is not None:
        options["ssl_context"] = context
    return options


def faststream_security(settings: KafkaSettings) -> Any:
    """FastStream's form of the same credentials (an SSL context turns on SASL_SSL)."""
    from faststream.security import SASLScram512

    if not _sasl(settings):
        return None
    return SASLScram512(
        username=settings.kafka_username,
        password=password(settings),
        ssl_context=ssl_context(settings),
    )


def librdkafka_config(settings: KafkaSettings) -> dict[str, str]:
    """The same as librdkafka properties (confluent-kafka, kcat, Java-style clients)."""
    config = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    if not _sasl(settings):
        return config
    config |= {
        "security.protocol": settings.kafka_security_protocol,
        "sasl.mechanism": MECHANISM,
        "sasl.username": settings.kafka_username,
        "sasl.password": password(settings),
    }
    if settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_ca_file is not None:
        config["ssl.ca.location"] = str(settings.kafka_ca_file)
    return config


def background_failure(owner: Any) -> BaseException | None:
    """Why one of the background tasks of an aiokafka consumer or producer ended, or None
    while they run.

    aiokafka ends such a task on an unexpected error (seen when a broker is killed: a write on
    a connection uvloop has already closed, a RuntimeError where it expects an OSError) and
    only logs it, if that. Without a consumer's fetcher `getmany` returns nothing, forever;
    without a producer's sender nothing is sent; without the client's metadata synchroniser
    every wait for fresh metadata (the group coordinator looked up again, a partition's new
    leader, a topic not known yet) waits forever, a commit or a send with it. Either way the
    client looks idle while work piles up, and only a new one goes on. The tasks are private,
    hence this one function around them. (The end of a consumer's coordination task is raised
    by its next getmany.)
    """
    tasks = {
        "fetcher": getattr(getattr(owner, "_fetcher", None), "error_future", None),
        "sender": getattr(getattr(owner, "_sender", None), "sender_task", None),
        "metadata synchroniser": getattr(_client_of(owner), "_sync_task", None),
    }
    for name, task in tasks.items():
        if not isinstance(task, asyncio.Future) or not task.done():
            continue
        if task.cancelled():
            return asyncio.CancelledError(f"the {name} was cancelled")
        return task.exception() or RuntimeError(f"the {name} ended")
    return None


async def stop_within(owner: Any, seconds: float) -> bool:
    """Stop an aiokafka consumer or producer within `seconds`; False when it had to be cut.

    A consumer's stop waits for its coordination task, which may itself wait forever (for the
    metadata a dead synchroniser never brings). Then what stop did not reach is ended here:
    the background tasks are cancelled and the connections closed, so a wedged client leaves
    nothing behind that fetches, sends, or heartbeats to keep its place in a group.
    """
    with contextlib.suppress(Exception):  # TimeoutError, or a stop that failed half-way
        await asyncio.wait_for(owner.stop(), seconds)
        return True
    coordinator = getattr(owner, "_coordinator", None)
    tasks = [
        getattr(coordinator, name, None)
        for name in ("_coordination_task", "_heartbeat_task", "_commit_refresh_task")
    ]
    tasks.append(getattr(getattr(owner, "_fetcher", None), "error_future", None))
    tasks.append(getattr(getattr(owner, "_sender", None), "sender_task", None))
    for task in tasks:
        if isinstance(task, asyncio.Future) and not task.done():
            task.cancel()
    if (kafka_client := _client_of(owner)) is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(kafka_client.close(), seconds)
    return False


def _client_of(owner: Any) -> Any:
    """The AIOKafkaClient under a consumer (`_client`) or a producer (`client`)."""
    return getattr(owner, "_client", None) or getattr(owner, "client", None)
