-- The applicant's choice to publish the appeal (submission field `public`): only these are
-- listed to anonymous Open311 readers, redacted.
ALTER TABLE appeals ADD COLUMN public boolean NOT NULL DEFAULT false;
CREATE INDEX appeals_public_registered ON appeals (registered_at DESC) WHERE public;
