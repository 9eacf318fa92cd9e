-- No planner statistics for the JSON documents (issue 17: latency under steady load).
--
-- No query filters, joins or sorts on the submission, the answer or a timeline entry's data:
-- they are read whole, by the appeal's id. Yet autoanalyze sorted a sample of 30,000 of each
-- (jsonb comparisons, every value detoasted) whenever a table had grown by a tenth. On a
-- fresh database of 300,000 appeals, ANALYZE of `appeals` took 0.76-0.85 s and of `timeline`
-- 0.37-0.61 s, against 0.41-0.55 and 0.21-0.24 s without these columns (7 Dec 2026). Each
-- such burst took a core from the services for a second or more under steady load, and the
-- slowest requests of bench-pipeline fell in them. A column that a query comes to filter on
-- should get its statistics back.
ALTER TABLE appeals ALTER COLUMN submission SET STATISTICS 0,
                    ALTER COLUMN answer SET STATISTICS 0;
ALTER TABLE timeline ALTER COLUMN data SET STATISTICS 0;
