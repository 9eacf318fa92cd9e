-- Outbox rows the broker refused for good (a topic that never came, a record over the size
-- limit, an invalid topic name), moved out of the relay's way with the refusal, and the rows
-- with the same topic and key that came after them (kept in order). `seq` is the row's own
-- place in the outbox: a retry puts it back there, ahead of anything newer for its key.
CREATE TABLE outbox_parked (
    seq            bigint      PRIMARY KEY,
    id             uuid        NOT NULL UNIQUE,
    aggregatetype  text        NOT NULL,
    aggregateid    text        NOT NULL,
    type           text        NOT NULL,
    payload        text        NOT NULL,
    created_at     timestamptz NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    error          text        NOT NULL
);
CREATE INDEX outbox_parked_key ON outbox_parked (aggregatetype, aggregateid);

-- Who relays this schema's outbox: one row per lease ('outbox'), held by a process
-- ('<service>@<host>:<pid>:<tag>') until `expires_at` (PostgreSQL's clock); the holder renews
-- it by heartbeats, and anyone may take it once it expired (appeals_platform.lease).
CREATE TABLE outbox_lease (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    expires_at  timestamptz NOT NULL
);
