-- Daily digests by email: one row per recipient and local day, claimed before sending so that
-- two instances never both send it. A claim is a lease: an instance that died while sending
-- leaves the row to be claimed again once `claimed_until` has passed.
CREATE TABLE digests (
    recipient      text        NOT NULL,  -- the address (the service's own schema only)
    day            date        NOT NULL,  -- Asia/Almaty working day the digest is for
    scope          text        NOT NULL,  -- an agency code, or 'region' for monitoring
    language       text        NOT NULL CHECK (language IN ('ru', 'kk')),
    message_id     text        NOT NULL,  -- the same on every attempt: receivers can drop repeats
    state          text        NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'sent')),
    claimed_by     text        NOT NULL,
    claimed_until  timestamptz NOT NULL,
    attempts       int         NOT NULL DEFAULT 1,
    last_error     text,
    sent_at        timestamptz,
    PRIMARY KEY (recipient, day)
);
