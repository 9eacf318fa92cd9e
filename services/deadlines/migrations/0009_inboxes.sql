-- Forgotten inboxes (deadlines.inboxes): one row per agency, what the watcher last saw of its
-- assignment topic and its unconfirmed assignments, and whether it is stalled. A watch round
-- locks the rows it judges, so a change of state is announced once by whichever process
-- judged it.
CREATE TABLE inboxes (
    agency                 text PRIMARY KEY,
    state                  text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'stalled')),
    reasons                text[] NOT NULL DEFAULT '{}',
    lag                    bigint NOT NULL DEFAULT 0,
    -- the best group's committed offsets summed: when it moves, the agency committed
    committed              bigint,
    lagging_since          timestamptz,
    last_commit_at         timestamptz,
    oldest_unconfirmed_at  timestamptz,
    unconfirmed            int NOT NULL DEFAULT 0,
    changed_at             timestamptz,
    checked_at             timestamptz NOT NULL
);
