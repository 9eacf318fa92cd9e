-- Working days lost to redirects (issue 13 item 4), in the compliance aggregates.
--
-- A hop a full redirect closed records the working days the appeal spent there (after the
-- day its agency received it, up to and including the day of the redirect; computed in
-- Python on the service's calendar, as answer_working_days is). The aggregates sum them on
-- the redirect's day: `redirect_days_lost` for the redirecting agency (and its level,
-- region, locality, category and the total), `redirect_days_received` for the agency the
-- redirect sent the appeal to (the agency dimension and the total only). Both functions of
-- 0007 are replaced together: the trigger copies the two new columns into
-- compliance_changes, and the flush folds them. Hops redirected before this migration count
-- nothing until a rebuild.

ALTER TABLE clocks ADD COLUMN redirect_working_days int;
ALTER TABLE compliance_changes ADD COLUMN redirect_working_days int,
                               ADD COLUMN redirected_to text;
ALTER TABLE compliance_daily ADD COLUMN redirect_days_lost int NOT NULL DEFAULT 0,
                             ADD COLUMN redirect_days_received int NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION compliance_flush() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    WITH changes AS (SELECT * FROM compliance_changes),
    facts AS (
        SELECT received_day AS day, sign AS received, 0 AS on_time, 0 AS late,
               0 AS redirected, 0 AS redirected_late, 0 AS o_started, 0 AS o_ended,
               0 AS days_lost, agency, agency_level, region, locality, category
        FROM changes
        UNION ALL
        SELECT closed_day, 0, sign * (outcome = 'on_time')::int, sign * (outcome = 'late')::int,
               0, 0, 0, 0, 0, agency, agency_level, region, locality, category
        FROM changes WHERE state = 'answered'
        UNION ALL
        SELECT redirected_day, 0, 0, 0, sign, sign * coalesce(redirect_late, false)::int,
               0, 0, sign * coalesce(redirect_working_days, 0),
               agency, agency_level, region, locality, category
        FROM changes WHERE redirected_day IS NOT NULL
        UNION ALL
        SELECT due_day + 1, 0, 0, 0, 0, 0, sign, 0, 0,
               agency, agency_level, region, locality, category
        FROM changes WHERE state = 'open' OR closed_at > due_at
        UNION ALL
        SELECT closed_day + 1, 0, 0, 0, 0, 0, 0, sign, 0,
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
               sum(o_started) AS o_started, sum(o_ended) AS o_ended,
               sum(days_lost) AS days_lost, 0 AS days_received
        FROM facts
        GROUP BY GROUPING SETS ((day), (day, agency), (day, agency_level), (day, region),
                                (day, locality), (day, category))
        UNION ALL
        -- The agency a redirect sent the appeal to: in the grouping by agency and the total
        -- only (the other groupings of the redirecting hop's row describe its agency).
        SELECT side.dimension, side.key, redirected_day, 0, 0, 0, 0, 0, 0, 0, 0,
               sign * redirect_working_days
        FROM changes
        CROSS JOIN LATERAL (VALUES ('agency', redirected_to), ('all', 'all')) side(dimension, key)
        WHERE redirect_working_days IS NOT NULL AND redirected_to IS NOT NULL
    ),
    combined AS (
        SELECT dimension, key, day, sum(received) AS received, sum(on_time) AS on_time,
               sum(late) AS late, sum(redirected) AS redirected,
               sum(redirected_late) AS redirected_late, sum(o_started) AS o_started,
               sum(o_ended) AS o_ended, sum(days_lost) AS days_lost,
               sum(days_received) AS days_received
        FROM grouped
        GROUP BY dimension, key, day
    )
    INSERT INTO compliance_daily AS d
        (dimension, key, day, received, answered_on_time, answered_late, redirected,
         redirected_late, overdue_started, overdue_ended, redirect_days_lost,
         redirect_days_received)
    SELECT dimension, key, day, received, on_time, late, redirected, redirected_late,
           o_started, o_ended, days_lost, days_received
    FROM combined
    WHERE received <> 0 OR on_time <> 0 OR late <> 0 OR redirected <> 0
          OR redirected_late <> 0 OR o_started <> 0 OR o_ended <> 0 OR days_lost <> 0
          OR days_received <> 0
    ORDER BY dimension, day, key
    ON CONFLICT (dimension, day, key) DO UPDATE SET
        received = d.received + excluded.received,
        answered_on_time = d.answered_on_time + excluded.answered_on_time,
        answered_late = d.answered_late + excluded.answered_late,
        redirected = d.redirected + excluded.redirected,
        redirected_late = d.redirected_late + excluded.redirected_late,
        overdue_started = d.overdue_started + excluded.overdue_started,
        overdue_ended = d.overdue_ended + excluded.overdue_ended,
        redirect_days_lost = d.redirect_days_lost + excluded.redirect_days_lost,
        redirect_days_received = d.redirect_days_received + excluded.redirect_days_received;

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
                   o.due_day, o.agency, o.agency_level, o.region, o.locality, o.category,
                   o.redirect_working_days, o.redirected_to)
                  IS DISTINCT FROM
                  (n.received_day, n.state, n.closed_at, n.closed_day, n.outcome,
                   n.answer_working_days, n.redirected_day, n.redirect_late, n.due_at,
                   n.due_day, n.agency, n.agency_level, n.region, n.locality, n.category,
                   n.redirect_working_days, n.redirected_to)
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
               locality, category, redirect_working_days, redirected_to
        FROM (%s) c
    $q$, changes);
    IF current_setting('deadlines.defer_compliance', true) IS DISTINCT FROM 'on' THEN
        PERFORM compliance_flush();
    END IF;
    RETURN NULL;
END
$fn$;
