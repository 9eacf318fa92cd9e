-- No planner statistics for the JSON documents (issue 17: latency under steady load).
--
-- No query of the service filters, joins or sorts on a clock's routing explanation, an alert's
-- data or a model: they are read whole, by their row's key. (The fault suite counts distinct
-- alerts by fields of `data`: expressions, which the column's statistics never served.) Yet
-- autoanalyze sorted a sample of 30,000 routing explanations (jsonb comparisons, every value
-- detoasted) whenever `clocks` had grown by a tenth. On a fresh database of 300,000 clocks,
-- ANALYZE of `clocks` took 0.88-1.01 s (autovacuum's log: 0.86 s of user CPU), against
-- 0.41-0.43 s without `routing` (7 Dec 2026): a burst that took a core from the services under
-- steady load. A column that a query comes to filter on should get its statistics back.
ALTER TABLE clocks ALTER COLUMN routing SET STATISTICS 0;
ALTER TABLE alerts ALTER COLUMN data SET STATISTICS 0;
ALTER TABLE risk_models ALTER COLUMN model SET STATISTICS 0;
