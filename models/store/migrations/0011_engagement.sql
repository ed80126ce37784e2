-- Engagement: what a viewer's client says it is doing (README "Engagement"). Each row is a
-- change of state the server heard, stamped with the server's clock; a state holds until the
-- next one, an interruption or the session's exit. Time before a session's first report (and
-- after a resume, until its client reports again) is `unknown`, never counted as active.
CREATE TABLE session_activity (
    org_id      text NOT NULL,
    breakout_id text NOT NULL,
    user_id     text NOT NULL,
    session_id  text NOT NULL,
    at          timestamptz NOT NULL,
    state       text NOT NULL CHECK (state IN ('visible', 'hidden', 'playing', 'paused', 'idle')),
    PRIMARY KEY (user_id, breakout_id, session_id, at),
    FOREIGN KEY (user_id, breakout_id, session_id)
        REFERENCES attendance_sessions (user_id, breakout_id, session_id) ON DELETE CASCADE
);
CREATE INDEX session_activity_by_breakout ON session_activity (org_id, breakout_id);

-- Every session cut into spans, each in one state: `unknown` from its entry (and from each
-- resume) until its client reports, each reported state until the next report, `away` over an
-- interruption, up to its exit (an open session: up to now). Reports outside the session or
-- inside an interruption are left out. The spans of a session add up to exit - entry.
CREATE VIEW session_state_spans AS
WITH marks AS (
    SELECT s.org_id, s.breakout_id, s.user_id, s.session_id, s.session_type,
           s.exit_ts IS NOT NULL AS closed, s.entry_ts AS at, 0 AS ord, 'unknown'::text AS state
    FROM attendance_sessions AS s
    UNION ALL
    SELECT s.org_id, s.breakout_id, s.user_id, s.session_id, s.session_type,
           s.exit_ts IS NOT NULL, a.at, 1, a.state
    FROM session_activity AS a
    JOIN attendance_sessions AS s USING (user_id, breakout_id, session_id)
    WHERE a.at >= s.entry_ts AND (s.exit_ts IS NULL OR a.at < s.exit_ts)
      AND NOT EXISTS (
          SELECT FROM session_interruptions AS i
          WHERE i.user_id = a.user_id AND i.breakout_id = a.breakout_id
            AND i.session_id = a.session_id AND a.at >= i.left_at AND a.at < i.back_at
      )
    UNION ALL
    SELECT s.org_id, s.breakout_id, s.user_id, s.session_id, s.session_type,
           s.exit_ts IS NOT NULL, edge.at, edge.ord, edge.state
    FROM session_interruptions AS i
    JOIN attendance_sessions AS s USING (user_id, breakout_id, session_id)
    CROSS JOIN LATERAL (VALUES (i.left_at, 2, 'away'), (i.back_at, 3, 'unknown'))
        AS edge (at, ord, state)
    UNION ALL
    SELECT s.org_id, s.breakout_id, s.user_id, s.session_id, s.session_type,
           s.exit_ts IS NOT NULL, coalesce(s.exit_ts, greatest(statement_timestamp(), s.entry_ts)),
           4, NULL
    FROM attendance_sessions AS s
)
SELECT org_id, breakout_id, user_id, session_id, session_type, closed, state,
       at AS span_start,
       lead(at) OVER (PARTITION BY org_id, breakout_id, user_id, session_id ORDER BY at, ord)
           AS span_end
FROM marks;

-- Per session: seconds in each state; they add up to the session's length (exit - entry).
CREATE VIEW session_states AS
SELECT org_id, breakout_id, user_id, session_id, session_type, closed,
       coalesce(sum(seconds) FILTER (WHERE state = 'visible'), 0) AS visible_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'playing'), 0) AS playing_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'paused'), 0) AS paused_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'hidden'), 0) AS hidden_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'idle'), 0) AS idle_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'unknown'), 0) AS unknown_seconds,
       coalesce(sum(seconds) FILTER (WHERE state = 'away'), 0) AS away_seconds,
       sum(seconds) AS length_seconds
FROM (
    SELECT org_id, breakout_id, user_id, session_id, session_type, closed, state,
           extract(epoch FROM span_end - span_start)::double precision AS seconds
    FROM session_state_spans
    WHERE state IS NOT NULL
) AS spans
GROUP BY org_id, breakout_id, user_id, session_id, session_type, closed;

-- Per user and breakout, over the closed live sessions (the time attendance counts): each
-- moment the user was in once, however many devices were in, in the most engaged state any of
-- them was in then: active (visible or playing) > idle > paused > hidden > unknown. The five
-- add up to `attended_seconds`, the user's attended time in the attendance report.
CREATE VIEW user_engagement AS
WITH spans AS (
    SELECT org_id, breakout_id, user_id, span_start, span_end,
           (state IN ('visible', 'playing'))::integer AS active, (state = 'idle')::integer AS idle,
           (state = 'paused')::integer AS paused, (state = 'hidden')::integer AS hidden,
           (state = 'unknown')::integer AS unknown
    FROM session_state_spans
    WHERE state IS NOT NULL AND state <> 'away' AND closed AND session_type = 'live'
      AND span_end > span_start
),
-- Each span starts (+1) and ends (-1) its state; per moment, how many spans of each state.
edges AS (
    SELECT org_id, breakout_id, user_id, edge.at, sum(edge.sign * active) AS active,
           sum(edge.sign * idle) AS idle, sum(edge.sign * paused) AS paused,
           sum(edge.sign * hidden) AS hidden, sum(edge.sign * unknown) AS unknown
    FROM spans
    CROSS JOIN LATERAL (VALUES (span_start, 1), (span_end, -1)) AS edge (at, sign)
    GROUP BY org_id, breakout_id, user_id, edge.at
),
levels AS (
    SELECT org_id, breakout_id, user_id, sum(active) OVER w AS active, sum(idle) OVER w AS idle,
           sum(paused) OVER w AS paused, sum(hidden) OVER w AS hidden,
           sum(unknown) OVER w AS unknown,
           extract(epoch FROM lead(at) OVER w - at)::double precision AS seconds
    FROM edges
    WINDOW w AS (PARTITION BY org_id, breakout_id, user_id ORDER BY at)
)
SELECT org_id, breakout_id, user_id,
       coalesce(sum(seconds) FILTER (WHERE active > 0), 0) AS active_seconds,
       coalesce(sum(seconds) FILTER (WHERE active = 0 AND idle > 0), 0) AS idle_seconds,
       coalesce(sum(seconds) FILTER (WHERE active = 0 AND idle = 0 AND paused > 0), 0)
           AS paused_seconds,
       coalesce(sum(seconds) FILTER (WHERE active = 0 AND idle = 0 AND paused = 0 AND hidden > 0),
                0) AS hidden_seconds,
       coalesce(sum(seconds) FILTER (WHERE active = 0 AND idle = 0 AND paused = 0 AND hidden = 0
                                       AND unknown > 0), 0) AS unknown_seconds,
       coalesce(sum(seconds) FILTER (WHERE active + idle + paused + hidden + unknown > 0), 0)
           AS attended_seconds
FROM levels
GROUP BY org_id, breakout_id, user_id;

-- The seed's per-breakout, per-user analytics: when first and last seen, how many sessions and
-- devices (distinct device type, OS and browser), the device and location mix (sessions per
-- device type and per place), comments still shown, and engagement.
CREATE VIEW breakout_user_analytics AS
WITH users AS (
    SELECT org_id, breakout_id, user_id, max(user_name) AS user_name, min(entry_ts) AS first_seen,
           max(coalesce(exit_ts, greatest(statement_timestamp(), entry_ts))) AS last_seen,
           count(*)::integer AS sessions,
           count(*) FILTER (WHERE session_type = 'live')::integer AS live_sessions,
           count(*) FILTER (WHERE exit_ts IS NULL)::integer AS open_sessions,
           count(DISTINCT (coalesce(device_type, ''), coalesce(os, ''), coalesce(browser, '')))
               ::integer AS devices
    FROM attendance_sessions
    GROUP BY org_id, breakout_id, user_id
),
device_mix AS (
    SELECT org_id, breakout_id, user_id, jsonb_object_agg(kind, n) AS device_mix
    FROM (
        SELECT org_id, breakout_id, user_id, coalesce(device_type, 'unknown') AS kind,
               count(*) AS n
        FROM attendance_sessions
        GROUP BY 1, 2, 3, 4
    ) AS d
    GROUP BY org_id, breakout_id, user_id
),
location_mix AS (
    SELECT org_id, breakout_id, user_id, jsonb_object_agg(place, n) AS location_mix
    FROM (
        SELECT org_id, breakout_id, user_id,
               CASE WHEN country_code IS NULL THEN 'unknown'
                    WHEN city IS NULL THEN country_code
                    ELSE city || ', ' || country_code END AS place,
               count(*) AS n
        FROM attendance_sessions
        GROUP BY 1, 2, 3, 4
    ) AS p
    GROUP BY org_id, breakout_id, user_id
),
posted AS (
    SELECT org_id, breakout_id, user_id, count(*)::integer AS comments
    FROM comments
    WHERE deleted_at IS NULL
    GROUP BY org_id, breakout_id, user_id
)
SELECT u.org_id, u.breakout_id, u.user_id, u.user_name, u.first_seen, u.last_seen, u.sessions,
       u.live_sessions, u.open_sessions, u.devices, d.device_mix, l.location_mix,
       coalesce(c.comments, 0) AS comments,
       coalesce(e.attended_seconds, 0) AS attended_seconds,
       coalesce(e.active_seconds, 0) AS active_seconds,
       coalesce(e.idle_seconds, 0) AS idle_seconds,
       coalesce(e.paused_seconds, 0) AS paused_seconds,
       coalesce(e.hidden_seconds, 0) AS hidden_seconds,
       coalesce(e.unknown_seconds, 0) AS unknown_seconds
FROM users AS u
JOIN device_mix AS d USING (org_id, breakout_id, user_id)
JOIN location_mix AS l USING (org_id, breakout_id, user_id)
LEFT JOIN posted AS c USING (org_id, breakout_id, user_id)
LEFT JOIN user_engagement AS e USING (org_id, breakout_id, user_id);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON session_states, user_engagement, breakout_user_analytics
            TO attendance_analyst;
    END IF;
END $$;
