-- Breach risk (deadlines.risk): the trained models, newest last, and the latest risk of each
-- open clock. A model is a JSON document (the history's answer-time tables and the
-- logistic regression's coefficients), so loading one runs no code.
CREATE TABLE risk_models (
    id          bigserial   PRIMARY KEY,
    trained_at  timestamptz NOT NULL,
    rows        int         NOT NULL,  -- training rows (observations of closed hops)
    positives   int         NOT NULL,  -- of which the hop was answered late or breached
    model       jsonb       NOT NULL
);

-- The latest scoring pass's risk per open clock that has not breached yet; a pass replaces
-- the rows of the clocks it scored and drops those of clocks closed or breached since.
CREATE TABLE clock_risks (
    appeal_id          uuid        NOT NULL,
    hop                int         NOT NULL,
    agency             text        NOT NULL,
    risk               double precision NOT NULL CHECK (risk >= 0 AND risk <= 1),
    working_days_left  int         NOT NULL,
    due_day            date        NOT NULL,
    model_id           bigint      NOT NULL,
    scored_at          timestamptz NOT NULL,
    PRIMARY KEY (appeal_id, hop)
);
-- The "At risk" queue: riskiest first, region-wide or one agency's.
CREATE INDEX clock_risks_queue ON clock_risks (risk DESC, working_days_left);
CREATE INDEX clock_risks_agency ON clock_risks (agency, risk DESC, working_days_left);

-- An agency's expected breaches of a month (the dashboard): its hops due that month.
CREATE INDEX clocks_agency_due ON clocks (agency, due_day);
