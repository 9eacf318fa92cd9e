"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from appeals_platform.kafka import SecurityProtocol


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # HTTP worker processes; each runs its own consumers, and one outbox relay leads.
    workers: int = 1
    # The service's own role (it owns its schema, nothing else); its password comes from
    # database_password_file (a mounted secret), else from the URL.
    database_url: str = "postgresql://service@127.0.0.1:5432/appeals"
    database_password_file: Path | None = None
    db_schema: str = "public"

    pool_min_size: int = 2
    pool_max_size: int = 10
    # PostgreSQL down or hung (appeals_platform.availability): every wait on it is bounded.
    # Seconds to open a connection, to wait for a free one of the pool (and to hand it back),
    # and the longest a statement runs (PostgreSQL cancels it; the client gives up on a
    # server that does not answer at all a few seconds later). Migrations have no limit.
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_acquire_timeout: float = Field(default=5.0, gt=0)
    database_statement_timeout: float = Field(default=30.0, gt=0)
    # TCP keepalives on every connection to PostgreSQL, both ends: a peer that is gone (a
    # host down, a connection dropped by a firewall) is noticed after idle + 3 probes.
    database_keepalive_idle: int = Field(default=10, ge=1)
    database_keepalive_interval: int = Field(default=5, ge=1)
    # The watchdog asks PostgreSQL `SELECT 1` this often on a connection of its own, from a
    # thread of its own (a busy event loop is not mistaken for a hung server); no answer
    # within the timeout marks it unavailable: HTTP requests that wait on it are answered
    # 503 at once, new ones get 503 until it answers again. Interval + timeout < 1 s.
    database_watchdog_interval: float = Field(default=0.25, gt=0)
    database_watchdog_timeout: float = Field(default=0.5, gt=0)
    # What a 503 tells the client to wait before it retries.
    database_retry_after: int = Field(default=2, ge=1)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # The service's own Kafka principal (SASL/SCRAM-SHA-512; ACLs allow only what it needs).
    # Each service names its principal; the password comes from a file (a mounted secret,
    # `appeals-stack` writes .local/kafka/secrets/<principal>/password) or the variable.
    kafka_security_protocol: SecurityProtocol = "SASL_PLAINTEXT"
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_password_file: Path | None = None
    # SASL_SSL: the CA that signed the broker's certificate (none: the system's CAs).
    kafka_ca_file: Path | None = None
    consumer_group: str = "appeals"
    # earliest: a new deployment reads the history; tests use latest with fresh groups.
    consumer_offset_reset: Literal["earliest", "latest"] = "earliest"
    # A replica that stops heartbeating (killed, frozen) loses its partitions to the others
    # of its group after the session timeout (the broker allows 6 s to 30 min); a heartbeat
    # every third of it. Kafka's defaults: 45 s and 3 s; aiokafka's: 10 s and 3 s.
    consumer_session_timeout_ms: int = Field(default=10_000, ge=6_000, le=1_800_000)
    consumer_heartbeat_interval_ms: int = Field(default=3_000, ge=500)
    # How long the broker may hold a fetch of a consumer off an appeal's way to its agency
    # (intake's timeline, deadlines' clocks) to gather a batch (`Subscription.gather_ms`):
    # a batch per gather instead of one per record, which leaves shared cores to the appeals
    # on their way (docs/benchmarks.md, "7 Dec 2026"). Those effects come up to this much
    # later: an agency that answers or confirms within that time of reading its assignment
    # is asked to retry (`NotYet`: HTTP with Retry-After; a Kafka command is tried again).
    consumer_gather_ms: int = Field(default=200, ge=0, le=5_000)
    # How long handled offsets may wait to be committed (`consumer.Policy.commit_interval`):
    # one commit per interval instead of one per batch. A crash hands at most this much of
    # handled records to the next reader again, which drops them (inbox) or repeats them
    # harmlessly (an effect keyed by the appeal).
    consumer_commit_interval_ms: int = Field(default=1_000, ge=0, le=60_000)
    # Bearer tokens: the public keys that verify (a JWKS file, several keys during a rotation),
    # the revoked jtis (default: revoked.json beside the JWKS), what iss and aud must say, and
    # how often both files are looked at for changes (a revocation takes effect within it).
    jwt_jwks_file: Path = Path(".local/keys/jwks.json")
    jwt_revoked_file: Path | None = None
    jwt_issuer: str = "appeals-token"
    jwt_audience: str = "appeals-platform"
    jwt_refresh_seconds: float = Field(default=10.0, gt=0, le=15)
    log_level: str = "INFO"
    # Most rows the relay claims and publishes per transaction (fewer when fewer wait). Under
    # load larger claims fill Kafka batches per partition better: routing's events spread over
    # every agency topic, and at 500 rows the relay and the broker spent about a third more
    # CPU per event than at 2,000 (measured 2 Dec 2026, 41 topics of 6 partitions).
    outbox_batch_size: int = 2000
    outbox_poll_interval: float = 0.5
    # Kafka's answer to a produce request, and to a whole round of the relay, is waited for
    # this long at most; the rows not acknowledged are sent again (with backoff) later.
    outbox_request_timeout_ms: int = Field(default=30_000, ge=1_000)
    outbox_delivery_timeout: float = Field(default=60.0, gt=0)
    # The relay leader's lease: renewed every third of it; a leader that hangs is replaced
    # once it runs out (plus a candidate's next try, at most 2 s).
    outbox_lease_seconds: float = Field(default=10.0, ge=1, le=60)
    # How long rows for a missing topic wait for it (an agency added at run time gets its
    # topic from the provisioner) before they are parked; rows of other topics go on.
    outbox_topic_wait: float = Field(default=60.0, ge=0)
    # statement_timeout and idle_in_transaction_session_timeout of the relay's connection.
    outbox_statement_timeout: float = Field(default=10.0, gt=0)
    # Put in front of every topic the service reads and the relay writes (code and outbox rows
    # keep the plain names): a test run or a benchmark on a shared broker uses topics of its
    # own, never those of the stack `make run` started.
    # The demo history's past moments (`Demo-Occurred-At`, appeals_platform.backdating):
    # only for the local demo stack, never in production.
    demo_history: bool = False
    topic_prefix: str = ""
    # Heap tuning once the service has started (appeals_platform.heap), on in every service:
    # move the start-up heap out of the collector's way; allocations between young-generation
    # collections (None: CPython's 700); megabytes of freed memory glibc keeps for the next
    # batch (0: glibc's default). Measured on routing's batches first (decisions 237 -> 192 µs
    # an appeal, 1 Dec 2026; event writing 25 -> 14 µs, 2 Dec), then on intake under steady
    # HTTP load, where the collector was a fifth of its CPU at CPython's defaults (py-spy,
    # 20 appeals/s, 7 Dec 2026) and next to nothing with these.
    gc_freeze: bool = True
    gc_young_threshold: int | None = Field(default=10_000, ge=1)
    malloc_keep_freed_mb: int = Field(default=64, ge=0, le=1024)

    def database_password(self) -> str | None:
        """The role's password from `database_password_file`; None: the URL's own, if any."""
        if self.database_password_file is None:
            return None
        return self.database_password_file.read_text(encoding="utf-8").strip()
