-- Dashboard sign-ins. The cookie carries a random id; only its SHA-256 is kept here, with
-- who signed in and the token's jti, key id and expiry (revocation and key retirement end
-- the session). Never the token itself.
CREATE TABLE dashboard_sessions (
    id_hash     bytea       PRIMARY KEY,
    subject     text        NOT NULL,
    role        text        NOT NULL,
    agency      text,
    token_jti   text        NOT NULL,
    token_kid   text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
