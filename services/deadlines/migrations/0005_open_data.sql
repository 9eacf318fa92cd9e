-- The open-data feed counts the extensions granted in a month: the few extended hops, found
-- without reading the clocks that were never extended.
CREATE INDEX clocks_extended ON clocks (extended_at) WHERE extended_at IS NOT NULL;
