-- Legal clocks, alerts, calendar overrides and the compliance aggregates of the deadlines service.

-- Government decrees the `holidays` package does not know (or gets wrong); the service's
-- working-day calendar is the package's KZ calendar with these rows on top.
CREATE TABLE calendar_overrides (
    day         date        PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('day_off', 'working_day')),
    decree      text        NOT NULL CHECK (decree <> ''),
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Bumped with every change of calendar_overrides, so running instances notice it cheaply.
CREATE TABLE calendar_revision (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision   bigint  NOT NULL
);
INSERT INTO calendar_revision VALUES (true, 0);

-- One legal clock per appeal and agency hop. Descriptive columns are copied from the
-- assignment so the ticker and the compliance report never read another service's data;
-- the *_day columns are Asia/Almaty dates computed in Python (the server's tz database may
-- predate the 2024-03-01 change).
CREATE TABLE clocks (
    appeal_id              uuid        NOT NULL,
    hop                    int         NOT NULL,
    registration_number    text        NOT NULL,
    appeal_type            text        NOT NULL,
    agency                 text        NOT NULL,
    agency_level           text,
    agency_parent          text,
    category               text,
    locality               text,
    region                 text,
    policy                 text        NOT NULL CHECK (policy IN ('restart', 'continue')),
    received_at            timestamptz NOT NULL,  -- the appeal's receipt (intake)
    agency_received_at     timestamptz NOT NULL,  -- this agency's receipt
    assigned_at            timestamptz NOT NULL,
    received_day           date        NOT NULL,  -- local day of agency_received_at
    registered_on          date        NOT NULL,
    start_day              date        NOT NULL,  -- day 1 of the term
    term_days              int         NOT NULL,
    unit                   text        NOT NULL,
    original_due_at        timestamptz NOT NULL,
    due_at                 timestamptz NOT NULL,
    due_day                date        NOT NULL,
    redirect_due_at        timestamptz NOT NULL,
    rule_version           text        NOT NULL,
    calendar_version       text        NOT NULL,
    extensions             int         NOT NULL DEFAULT 0,
    extended_at            timestamptz,
    extension_reason       text,
    extension_notified_on  date,
    state                  text        NOT NULL DEFAULT 'open'
                                       CHECK (state IN ('open', 'answered', 'redirected')),
    closed_at              timestamptz,
    closed_day             date,
    outcome                text        CHECK (outcome IN ('on_time', 'late')),
    working_days_late      int,
    answer_working_days    int,
    redirected_at          timestamptz,
    redirected_day         date,
    redirected_to          text,
    redirect_partial       boolean,
    redirect_late          boolean,
    -- Alert state: a pure function of the alerts raised, so a rebuild restores it exactly.
    warned_offset          int,
    breached_at            timestamptz,
    reminders_sent         int         NOT NULL DEFAULT 0,
    escalated_at           timestamptz,
    next_action            text,
    next_action_at         timestamptz,
    routing                jsonb,  -- routing's method, confidence and explanation
    PRIMARY KEY (appeal_id, hop)
);

-- The ticker's claim: cost O(log n + batch) however many clocks are open.
CREATE INDEX clocks_next_action ON clocks (next_action_at) WHERE state = 'open';
-- "Open and overdue" read from clocks (the dashboard's lists): the open ones, and the ones
-- closed after their due date.
CREATE INDEX clocks_open_due ON clocks (due_at) WHERE state = 'open';
CREATE INDEX clocks_closed_late ON clocks (closed_at) WHERE state <> 'open' AND closed_at > due_at;
CREATE INDEX clocks_agency_open ON clocks (agency) WHERE state = 'open';

-- Answers and redirects as received: an event may arrive before the assignment it closes
-- (they travel on different topics), and the clock applies it when it opens.
CREATE TABLE answers (
    event_id      text        PRIMARY KEY,
    appeal_id     uuid        NOT NULL,
    agency        text        NOT NULL,
    answered_at   timestamptz NOT NULL
);
CREATE INDEX answers_appeal ON answers (appeal_id);

CREATE TABLE redirects (
    event_id       text        PRIMARY KEY,
    appeal_id      uuid        NOT NULL,
    hop            int         NOT NULL,
    from_agency    text        NOT NULL,
    to_agency      text,
    partial        boolean     NOT NULL,
    reason         text        NOT NULL,
    redirected_at  timestamptz NOT NULL
);
CREATE INDEX redirects_appeal_hop ON redirects (appeal_id, hop);

-- Every alert raised, for the dashboard to list and acknowledge; id = the CloudEvent id.
CREATE TABLE alerts (
    id                   uuid        PRIMARY KEY,
    appeal_id            uuid        NOT NULL,
    hop                  int         NOT NULL,
    kind                 text        NOT NULL,
    severity             text        NOT NULL,
    agency               text        NOT NULL,
    locality             text,
    region               text,
    raised_at            timestamptz NOT NULL,
    data                 jsonb       NOT NULL,
    acknowledged_at      timestamptz,
    acknowledged_by      text,
    acknowledge_comment  text
);
CREATE INDEX alerts_raised ON alerts (raised_at DESC);
CREATE INDEX alerts_appeal ON alerts (appeal_id);
CREATE INDEX alerts_agency_raised ON alerts (agency, raised_at DESC);

-- Compliance aggregates per day and per grouping (dimension: all, agency, level, region,
-- locality, category), kept by statement triggers on clocks from the transition tables, so
-- every code path (consumers, API, rebuild) keeps them right and a report reads a few
-- thousand rows instead of scanning clocks.
-- overdue_started counts hops whose first overdue day (the day after the due day) is `day`,
-- unless answered in time; overdue_ended the hops closed late, on the day after closing. So
-- the hops open and overdue at the start of day X are the sum of started - ended up to X.
CREATE TABLE compliance_daily (
    dimension         text NOT NULL,
    key               text NOT NULL,
    day               date NOT NULL,
    received          int  NOT NULL DEFAULT 0,
    answered_on_time  int  NOT NULL DEFAULT 0,
    answered_late     int  NOT NULL DEFAULT 0,
    redirected        int  NOT NULL DEFAULT 0,
    redirected_late   int  NOT NULL DEFAULT 0,
    overdue_started   int  NOT NULL DEFAULT 0,
    overdue_ended     int  NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, day, key)
);

-- How many answers took n working days (for medians), per day and grouping.
CREATE TABLE compliance_answer_days (
    dimension     text NOT NULL,
    key           text NOT NULL,
    day           date NOT NULL,
    working_days  int  NOT NULL,
    answers       int  NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, day, key, working_days)
);

CREATE FUNCTION clocks_compliance() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    changes text;
BEGIN
    -- Old rows count -1 and new rows +1; an update that touches no reported column (every
    -- ticker update) cancels out and writes nothing.
    IF TG_OP = 'INSERT' THEN
        changes := 'SELECT 1 AS sign, * FROM new_rows';
    ELSIF TG_OP = 'UPDATE' THEN
        -- The ticker's updates (timers only) leave here after one cheap join.
        IF NOT EXISTS (
            SELECT 1 FROM old_rows o JOIN new_rows n USING (appeal_id, hop)
            WHERE (o.received_day, o.state, o.closed_at, o.closed_day, o.outcome,
                   o.answer_working_days, o.redirected_day, o.redirect_late, o.due_at,
                   o.due_day, o.agency, o.agency_level, o.region, o.locality, o.category)
                  IS DISTINCT FROM
                  (n.received_day, n.state, n.closed_at, n.closed_day, n.outcome,
                   n.answer_working_days, n.redirected_day, n.redirect_late, n.due_at,
                   n.due_day, n.agency, n.agency_level, n.region, n.locality, n.category)
        ) THEN
            RETURN NULL;
        END IF;
        changes := 'SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows';
    ELSE
        changes := 'SELECT -1 AS sign, * FROM old_rows';
    END IF;
    EXECUTE format($q$
        WITH changes AS (%s),
        facts AS (
            SELECT received_day AS day, sign AS received, 0 AS on_time, 0 AS late,
                   0 AS redirected, 0 AS redirected_late, 0 AS o_started, 0 AS o_ended,
                   agency, agency_level, region, locality, category
            FROM changes
            UNION ALL
            SELECT closed_day, 0, sign * (outcome = 'on_time')::int, sign * (outcome = 'late')::int,
                   0, 0, 0, 0, agency, agency_level, region, locality, category
            FROM changes WHERE state = 'answered'
            UNION ALL
            SELECT redirected_day, 0, 0, 0, sign, sign * coalesce(redirect_late, false)::int,
                   0, 0, agency, agency_level, region, locality, category
            FROM changes WHERE redirected_day IS NOT NULL
            UNION ALL
            SELECT due_day + 1, 0, 0, 0, 0, 0, sign, 0,
                   agency, agency_level, region, locality, category
            FROM changes WHERE state = 'open' OR closed_at > due_at
            UNION ALL
            SELECT closed_day + 1, 0, 0, 0, 0, 0, 0, sign,
                   agency, agency_level, region, locality, category
            FROM changes WHERE state <> 'open' AND closed_at > due_at
        ),
        grouped AS (
            SELECT CASE WHEN grouping(agency) = 0 THEN 'agency'
                        WHEN grouping(agency_level) = 0 THEN 'level'
                        WHEN grouping(region) = 0 THEN 'region'
                        WHEN grouping(locality) = 0 THEN 'locality'
                        WHEN grouping(category) = 0 THEN 'category'
                        ELSE 'all' END AS dimension,
                   coalesce(CASE WHEN grouping(agency) = 0 THEN agency
                                 WHEN grouping(agency_level) = 0 THEN agency_level
                                 WHEN grouping(region) = 0 THEN region
                                 WHEN grouping(locality) = 0 THEN locality
                                 WHEN grouping(category) = 0 THEN category
                                 ELSE 'all' END, '') AS key,
                   day, sum(received) AS received, sum(on_time) AS on_time, sum(late) AS late,
                   sum(redirected) AS redirected, sum(redirected_late) AS redirected_late,
                   sum(o_started) AS o_started, sum(o_ended) AS o_ended
            FROM facts
            GROUP BY GROUPING SETS ((day), (day, agency), (day, agency_level), (day, region),
                                    (day, locality), (day, category))
        )
        INSERT INTO compliance_daily AS d
            (dimension, key, day, received, answered_on_time, answered_late, redirected,
             redirected_late, overdue_started, overdue_ended)
        SELECT dimension, key, day, received, on_time, late, redirected, redirected_late,
               o_started, o_ended
        FROM grouped
        WHERE received <> 0 OR on_time <> 0 OR late <> 0 OR redirected <> 0
              OR redirected_late <> 0 OR o_started <> 0 OR o_ended <> 0
        ORDER BY dimension, day, key
        ON CONFLICT (dimension, day, key) DO UPDATE SET
            received = d.received + excluded.received,
            answered_on_time = d.answered_on_time + excluded.answered_on_time,
            answered_late = d.answered_late + excluded.answered_late,
            redirected = d.redirected + excluded.redirected,
            redirected_late = d.redirected_late + excluded.redirected_late,
            overdue_started = d.overdue_started + excluded.overdue_started,
            overdue_ended = d.overdue_ended + excluded.overdue_ended
    $q$, changes);
    EXECUTE format($q$
        WITH changes AS (%s),
        grouped AS (
            SELECT CASE WHEN grouping(agency) = 0 THEN 'agency'
                        WHEN grouping(agency_level) = 0 THEN 'level'
                        WHEN grouping(region) = 0 THEN 'region'
                        WHEN grouping(locality) = 0 THEN 'locality'
                        WHEN grouping(category) = 0 THEN 'category'
                        ELSE 'all' END AS dimension,
                   coalesce(CASE WHEN grouping(agency) = 0 THEN agency
                                 WHEN grouping(agency_level) = 0 THEN agency_level
                                 WHEN grouping(region) = 0 THEN region
                                 WHEN grouping(locality) = 0 THEN locality
                                 WHEN grouping(category) = 0 THEN category
                                 ELSE 'all' END, '') AS key,
                   closed_day AS day, answer_working_days AS working_days, sum(sign) AS answers
            FROM changes
            WHERE state = 'answered' AND answer_working_days IS NOT NULL
            GROUP BY GROUPING SETS ((closed_day, answer_working_days),
                                    (closed_day, answer_working_days, agency),
                                    (closed_day, answer_working_days, agency_level),
                                    (closed_day, answer_working_days, region),
                                    (closed_day, answer_working_days, locality),
                                    (closed_day, answer_working_days, category))
            HAVING sum(sign) <> 0
        )
        INSERT INTO compliance_answer_days AS a (dimension, key, day, working_days, answers)
        SELECT dimension, key, day, working_days, answers FROM grouped
        ORDER BY dimension, day, key, working_days
        ON CONFLICT (dimension, day, key, working_days) DO UPDATE SET
            answers = a.answers + excluded.answers
    $q$, changes);
    RETURN NULL;
END
$fn$;

-- A trigger with transition tables may name one event only, hence three.
CREATE TRIGGER clocks_compliance_insert AFTER INSERT ON clocks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION clocks_compliance();
CREATE TRIGGER clocks_compliance_update AFTER UPDATE ON clocks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION clocks_compliance();
CREATE TRIGGER clocks_compliance_delete AFTER DELETE ON clocks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION clocks_compliance();
