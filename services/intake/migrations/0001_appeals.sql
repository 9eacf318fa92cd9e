-- The appeal registry.

-- Registration numbers: KRG-<year>-<8 digits>. One sequence, so two appeals never share a
-- number in a year; gaps after a rolled-back registration are harmless.
CREATE SEQUENCE registration_seq;

CREATE TABLE appeals (
    id                   uuid PRIMARY KEY,
    source               text        NOT NULL,
    external_id          text        NOT NULL,
    fingerprint          text        NOT NULL,
    registration_number  text        NOT NULL UNIQUE,
    registered_at        timestamptz NOT NULL,
    type                 text        NOT NULL,
    language             text        NOT NULL,
    applicant_kind       text        NOT NULL,
    -- Kept for the applicant's history; never logged, never in metrics.
    applicant_iin        text,
    applicant_bin        text,
    category             text,
    locality             text,
    addressee            text,
    submission           jsonb       NOT NULL,
    channel              text        NOT NULL,
    status               text        NOT NULL DEFAULT 'registered',
    agency               text,
    hop                  int         NOT NULL DEFAULT 0,
    due_at               timestamptz,
    overdue              boolean     NOT NULL DEFAULT false,
    answered_at          timestamptz,
    answer               jsonb,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, external_id)
);

CREATE INDEX appeals_applicant_iin ON appeals (applicant_iin, registered_at DESC)
    WHERE applicant_iin IS NOT NULL;
CREATE INDEX appeals_applicant_bin ON appeals (applicant_bin, registered_at DESC)
    WHERE applicant_bin IS NOT NULL;
CREATE INDEX appeals_registered_at ON appeals (registered_at DESC);
CREATE INDEX appeals_category_registered ON appeals (category, registered_at DESC);

-- Every event about an appeal, from every service, in the order it happened.
CREATE TABLE timeline (
    appeal_id  uuid        NOT NULL,
    event_id   text        NOT NULL,
    kind       text        NOT NULL,
    type       text        NOT NULL,
    at         timestamptz NOT NULL,
    data       jsonb       NOT NULL,
    PRIMARY KEY (appeal_id, event_id)
);
CREATE INDEX timeline_appeal_at ON timeline (appeal_id, at);
