-- Compliance aggregates folded once per batch instead of once per statement.
--
-- The statement triggers of 0001 aggregated every change of `clocks` at once: a GROUPING SETS
-- query and two upserts per statement, about 6 ms each on this machine however few rows
-- changed. A consumer batch or a rebuild makes several statements per event, so that cost
-- bounded them at a few hundred events/s (a rebuild of 3,671 events took 108 s).
--
-- Now the trigger writes the changed rows, signed, to `compliance_changes` and folds them
-- into the aggregates at once (`compliance_flush`), unless the transaction says
-- `SET LOCAL deadlines.defer_compliance = 'on'`: then its caller calls compliance_flush()
-- before committing, once. The rows never outlive the transaction that wrote them (the flush
-- deletes them), so a transaction only ever sees its own: UNLOGGED, nothing to replicate.

CREATE UNLOGGED TABLE compliance_changes (
    sign                 int NOT NULL,
    received_day         date,
    state                text,
    closed_at            timestamptz,
    closed_day           date,
    outcome              text,
    answer_working_days  int,
    redirected_day       date,
    redirect_late        boolean,
    due_at               timestamptz,
    due_day              date,
    agency               text,
    agency_level         text,
    region               text,
    locality             text,
    category             text
);

CREATE FUNCTION compliance_flush() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    WITH changes AS (SELECT * FROM compliance_changes),
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
        overdue_ended = d.overdue_ended + excluded.overdue_ended;

    WITH grouped AS (
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
        FROM compliance_changes
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
        answers = a.answers + excluded.answers;

    DELETE FROM compliance_changes;
END
$fn$;

CREATE OR REPLACE FUNCTION clocks_compliance() RETURNS trigger
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
        INSERT INTO compliance_changes
        SELECT sign, received_day, state, closed_at, closed_day, outcome, answer_working_days,
               redirected_day, redirect_late, due_at, due_day, agency, agency_level, region,
               locality, category
        FROM (%s) c
    $q$, changes);
    IF current_setting('deadlines.defer_compliance', true) IS DISTINCT FROM 'on' THEN
        PERFORM compliance_flush();
    END IF;
    RETURN NULL;
END
$fn$;
