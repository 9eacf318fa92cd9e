-- Outbox rows stay in the table's own pages, uncompressed, up to a page's worth: a row lives
-- until the relay's next claim, milliseconds, and is read once. With the defaults, a payload
-- over 2 KB (an AppealAssigned carrying the appeal) was compressed on the way in and
-- decompressed on the way out: ~8 µs of PostgreSQL's CPU per routed appeal (measured
-- 2 Dec 2026). Larger rows are still compressed, then moved out of line, as before.
ALTER TABLE outbox SET (toast_tuple_target = 8160);
ALTER TABLE outbox ALTER COLUMN payload SET STORAGE MAIN;
