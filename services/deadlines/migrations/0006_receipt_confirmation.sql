-- When the agency of a hop confirmed that it took the appeal into work (issue 13): over
-- HTTP (POST /v1/appeals/{id}/receipt) or its Kafka actions topic. `agency_received_at` is
-- when the hop reached it; NULL here: not confirmed (yet).
ALTER TABLE clocks ADD COLUMN confirmed_at timestamptz;
