-- Transactional outbox and inbox, created in every service's own schema (search_path).

-- Debezium's outbox event router column names (id, aggregatetype, aggregateid, type, payload),
-- so CDC can replace the polling relay later: aggregatetype is the topic, aggregateid the key.
CREATE TABLE outbox (
    seq            bigserial PRIMARY KEY,
    id             uuid        NOT NULL UNIQUE,
    aggregatetype  text        NOT NULL,
    aggregateid    text        NOT NULL,
    type           text        NOT NULL,
    payload        jsonb       NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Processed event ids, written in the same transaction as the consumer's effect.
CREATE TABLE inbox (
    consumer      text        NOT NULL,
    event_id      text        NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
