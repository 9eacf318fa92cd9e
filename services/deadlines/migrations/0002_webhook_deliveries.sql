-- Alerts waiting for the webhook: the alerts consumer queues them here in its transaction, and
-- a dispatcher posts them outside any transaction and outside the poll loop, so a slow or
-- failing receiver never holds a Kafka consumer past its poll interval. A row leaves when the
-- receiver accepts it, or as a dead letter on deadlines.alerts.dlq when it never will.
CREATE TABLE webhook_deliveries (
    event_id         text        PRIMARY KEY,
    event_type       text        NOT NULL,
    body             bytea       NOT NULL,
    topic            text        NOT NULL,  -- the alert's coordinates, for its dead letter
    kafka_partition  int         NOT NULL,
    kafka_offset     bigint      NOT NULL,
    kafka_key        bytea,
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    queued_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
