-- No planner statistics for the reference documents: they are read whole, by version, never
-- filtered on. The same rule as intake's and deadlines' documents (their 0004 and 0014): a
-- jsonb column gets no statistics until a query filters on it.
ALTER TABLE reference_versions ALTER COLUMN document SET STATISTICS 0;
