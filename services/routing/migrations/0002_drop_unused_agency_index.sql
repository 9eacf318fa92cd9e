-- No query reads assignments by agency: an agency's hops on an appeal are found through the
-- primary key (appeal_id, hop), a handful of rows. The index cost every routed appeal an index
-- insert (~4 µs of PostgreSQL's CPU, measured 2 Dec 2026). A listing of an agency's current
-- appeals, if one is added, should bring back the index it needs.
DROP INDEX IF EXISTS assignments_active_agency;
