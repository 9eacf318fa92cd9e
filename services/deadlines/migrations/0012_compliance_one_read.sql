-- The compliance fold reads its queue once (issue 17: CPU per appeal under steady load).
--
-- compliance_flush (0007, 0008) read compliance_changes three times: for the daily
-- aggregates, for the answer days and to delete the rows. The table is a queue: every
-- transaction deletes what it wrote, so until autovacuum comes (once a minute at most) each
-- read walks the pages of every row deleted since, a hundred pages and more at 400
-- appeals/s. Now one statement deletes the rows and folds what it deleted into both
-- aggregates. What is folded is unchanged (0008's queries, reading `changes` instead of the
-- table). The rest of a flush's cost is the upserts: about eight aggregate rows per clock.

CREATE OR REPLACE FUNCTION compliance_flush() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
BEGIN
    WITH changes AS (DELETE FROM compliance_changes RETURNING *),
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
    ),
    daily AS (
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
            redirect_days_received = d.redirect_days_received + excluded.redirect_days_received
    ),
    answer_days AS (
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
    SELECT dimension, key, day, working_days, answers FROM answer_days
    ORDER BY dimension, day, key, working_days
    ON CONFLICT (dimension, day, key, working_days) DO UPDATE SET
        answers = a.answers + excluded.answers;
END
$fn$;
