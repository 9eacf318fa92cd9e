-- Outbox payloads as json, not jsonb: they are written once, read back once as text by the
-- relay, and never queried inside. jsonb parsed every payload on the way in and printed it
-- again on the way out; bench-routing showed PostgreSQL spending most of its CPU there
-- (two events of ~3 KB per routed appeal).
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;
