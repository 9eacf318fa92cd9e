-- The answer intake recorded (from intake.answer-given): an answered appeal takes no redirect
-- and no assignment, as intake takes no second answer (issue 15).
ALTER TABLE appeals ADD COLUMN answered_at timestamptz, ADD COLUMN answered_by text;
