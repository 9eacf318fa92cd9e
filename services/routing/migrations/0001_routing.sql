-- Routing: versioned reference data, each appeal's assignments (hops), the triage queue,
-- redirects, and the labelled examples operators and agencies produce for retraining.

-- Reference data as versioned documents; the version is the content hash of the document.
-- Exactly one row is active; running instances poll it and switch without a redeploy.
CREATE TABLE reference_versions (
    version      text        PRIMARY KEY,
    document     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    activated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX reference_versions_one_active ON reference_versions (active) WHERE active;

-- One row per appeal routing has seen: the AppealReceived payload (the agency topics carry
-- it on every hop) and the counters that allocate hop numbers and guard against ping-pong.
-- Payloads and explanations are json, not jsonb: they are stored and read back whole, never
-- searched, and json skips the conversion on every insert of the consumer's hot path.
CREATE TABLE appeals (
    appeal_id            uuid        PRIMARY KEY,
    registration_number  text        NOT NULL,
    registered_at        timestamptz NOT NULL,
    appeal_type          text        NOT NULL,
    received             json        NOT NULL,
    last_hop             int         NOT NULL,
    redirects            int         NOT NULL DEFAULT 0,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Hop n is the n-th agency assignment of an appeal. `active` while the agency holds it: a
-- full redirect ends it, a partial one (the agency answers its part) does not.
CREATE TABLE assignments (
    appeal_id          uuid        NOT NULL REFERENCES appeals,
    hop                int         NOT NULL,
    agency             text        NOT NULL,
    category           text,
    locality           text,
    method             text        NOT NULL,
    confidence         real,
    explanation        json        NOT NULL,
    reference_version  text        NOT NULL,
    classifier_version text,
    received_at        timestamptz NOT NULL,
    assigned_at        timestamptz NOT NULL,
    assigned_by        text,
    partial            boolean     NOT NULL DEFAULT false,
    active             boolean     NOT NULL DEFAULT true,
    ended_at           timestamptz,
    PRIMARY KEY (appeal_id, hop)
);
CREATE INDEX assignments_active_agency ON assignments (agency, appeal_id) WHERE active;

-- An appeal waiting for an operator: its hop number is reserved, the operator's assignment
-- takes it. The partial index keeps the queue cheap however many appeals were ever triaged.
CREATE TABLE triage (
    appeal_id          uuid        NOT NULL REFERENCES appeals,
    hop                int         NOT NULL,
    reason             text        NOT NULL,
    best_guess         text,
    category           text,
    locality           text,
    confidence         real,
    explanation        json        NOT NULL,
    reference_version  text        NOT NULL,
    received_at        timestamptz NOT NULL,
    triaged_at         timestamptz NOT NULL,
    resolved_at        timestamptz,
    resolved_by        text,
    PRIMARY KEY (appeal_id, hop)
);
CREATE INDEX triage_open ON triage (triaged_at) WHERE resolved_at IS NULL;

CREATE TABLE redirects (
    appeal_id      uuid        NOT NULL REFERENCES appeals,
    from_hop       int         NOT NULL,
    to_hop         int         NOT NULL,
    from_agency    text        NOT NULL,
    target         text,
    reason         text        NOT NULL,
    partial        boolean     NOT NULL,
    comment        text,
    outcome        text        NOT NULL,
    redirected_at  timestamptz NOT NULL,
    redirected_by  text        NOT NULL,
    PRIMARY KEY (appeal_id, to_hop)
);

-- Text and the category a human decision implies; `routing retrain` learns from them.
CREATE TABLE labelled_examples (
    id          bigserial   PRIMARY KEY,
    appeal_id   uuid        NOT NULL,
    text        text        NOT NULL,
    category    text        NOT NULL,
    origin      text        NOT NULL,
    agency      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
