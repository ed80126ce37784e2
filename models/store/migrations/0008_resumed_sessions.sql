-- A stay that a lost connection interrupted, and that the same client resumed within
-- RECONNECT_GRACE_S, is one session: a reconnect no longer splits it into two rows. The
-- session keeps each interruption (when the client was last heard, when it came back), and its
-- attended time leaves the gaps out.

ALTER TABLE attendance_sessions
    ADD COLUMN interruptions integer NOT NULL DEFAULT 0 CHECK (interruptions >= 0),
    ADD COLUMN interrupted_seconds double precision NOT NULL DEFAULT 0
        CHECK (interrupted_seconds >= 0);

CREATE TABLE session_interruptions (
    user_id     text NOT NULL,
    breakout_id text NOT NULL,
    session_id  text NOT NULL,
    left_at     timestamptz NOT NULL,  -- when the client was last heard
    back_at     timestamptz NOT NULL,  -- when its resume was accepted
    left_node   text,
    back_node   text,
    PRIMARY KEY (user_id, breakout_id, session_id, left_at),
    FOREIGN KEY (user_id, breakout_id, session_id)
        REFERENCES attendance_sessions (user_id, breakout_id, session_id) ON DELETE CASCADE,
    CHECK (back_at >= left_at)
);

-- A node closes only the sessions it holds: once another node has taken a session over (a
-- resume after this one went silent), a late exit from the first changes nothing. NULL (a
-- journal written before this migration) closes whoever holds it, as before.
ALTER TYPE session_exit_row ADD ATTRIBUTE node_id text;

-- Attended time leaves the interruptions out.
DROP VIEW attended;
CREATE VIEW attended AS
SELECT s.*,
       s.exit_ts - s.entry_ts - make_interval(secs => s.interrupted_seconds) AS duration,
       extract(epoch FROM s.exit_ts - s.entry_ts)::double precision - s.interrupted_seconds
           AS duration_seconds
FROM attendance_sessions AS s
WHERE s.exit_ts IS NOT NULL;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON attended TO attendance_analyst;
    END IF;
END $$;

-- Reports count a resumed session's stretches, not the gaps between them.
CREATE OR REPLACE FUNCTION presence_by_day(p_kinds text[], p_ids text[], p_days date[], p_now timestamptz,
                                p_count_open boolean)
RETURNS TABLE (place_kind text, place_id text, day date, user_id text, user_name text,
               seconds double precision, entries integer, first_in timestamptz,
               last_out timestamptz)
-- Sorting a big breakout's day in memory is several times faster than on disk.
LANGUAGE sql STABLE SET work_mem = '64MB' AS $$
WITH keys AS (
    SELECT k.place_kind, k.place_id, k.day, coalesce(sc.time_zone, 'UTC') AS time_zone,
           k.day::timestamp AT TIME ZONE coalesce(sc.time_zone, 'UTC') AS day_start,
           (k.day + 1)::timestamp AT TIME ZONE coalesce(sc.time_zone, 'UTC') AS day_end
    FROM unnest(p_kinds, p_ids, p_days) AS k(place_kind, place_id, day)
    LEFT JOIN schools AS sc
      ON k.place_kind = 'school'
     AND sc.org_id = split_part(k.place_id, '/', 1) AND sc.id = split_part(k.place_id, '/', 2)
),
places AS (
    SELECT keys.place_kind, keys.place_id, keys.time_zone, min(keys.day_start) AS range_start,
           max(keys.day_end) AS range_end
    FROM keys
    GROUP BY 1, 2, 3
),
-- Each place's stays over the whole range in one index scan per place (the view's two halves
-- written out, so each uses its own index).
stays AS (
    SELECT r.*, (r.entry_ts AT TIME ZONE r.time_zone)::date AS first_day,
           (r.exit_ts AT TIME ZONE r.time_zone)::date AS last_day
    FROM (
        -- A session is one stay...
        SELECT p.place_kind, p.place_id, p.time_zone, i.user_id, i.user_name, i.entry_ts,
               coalesce(i.exit_ts, p_now) AS exit_ts, i.exit_ts IS NULL AS still_open,
               true AS counts_entry
        FROM places AS p
        JOIN attendance_sessions AS i
          ON p.place_kind IN ('breakout', 'recording')
         AND i.org_id = split_part(p.place_id, '/', 1)
         AND i.breakout_id = split_part(p.place_id, '/', 2)
         AND i.session_type = CASE p.place_kind WHEN 'breakout' THEN 'live' ELSE 'on_demand' END
         AND i.entry_ts < p.range_end AND i.entry_ts >= p.range_start - interval '7 days'
        WHERE i.interruptions = 0
          AND (i.exit_ts IS NOT NULL OR (p_count_open AND i.entry_ts <= p_now))
        UNION ALL
        -- ...unless its client was away and resumed it: then each stretch it was there is one
        -- (its first alone counts as an entry).
        SELECT p.place_kind, p.place_id, p.time_zone, i.user_id, i.user_name, piece.began,
               coalesce(piece.ended, p_now), piece.ended IS NULL, piece.first
        FROM places AS p
        JOIN attendance_sessions AS i
          ON p.place_kind IN ('breakout', 'recording')
         AND i.org_id = split_part(p.place_id, '/', 1)
         AND i.breakout_id = split_part(p.place_id, '/', 2)
         AND i.session_type = CASE p.place_kind WHEN 'breakout' THEN 'live' ELSE 'on_demand' END
         AND i.entry_ts < p.range_end AND i.entry_ts >= p.range_start - interval '7 days'
        CROSS JOIN LATERAL (
            SELECT coalesce(lag(g.back_at) OVER w, i.entry_ts) AS began, g.left_at AS ended,
                   row_number() OVER w = 1 AS first
            FROM session_interruptions AS g
            WHERE g.user_id = i.user_id AND g.breakout_id = i.breakout_id
              AND g.session_id = i.session_id
            WINDOW w AS (ORDER BY g.left_at)
            UNION ALL
            SELECT max(g.back_at), i.exit_ts, false
            FROM session_interruptions AS g
            WHERE g.user_id = i.user_id AND g.breakout_id = i.breakout_id
              AND g.session_id = i.session_id
        ) AS piece
        WHERE i.interruptions > 0
          AND (i.exit_ts IS NOT NULL OR (p_count_open AND i.entry_ts <= p_now))
        UNION ALL
        SELECT p.place_kind, p.place_id, p.time_zone, v.user_id, NULL, v.entry_ts,
               coalesce(v.exit_ts, p_now), v.exit_ts IS NULL, true
        FROM places AS p
        JOIN school_visits AS v
          ON p.place_kind = 'school'
         AND v.org_id = split_part(p.place_id, '/', 1)
         AND v.school_id = split_part(p.place_id, '/', 2)
         AND v.entry_ts < p.range_end AND v.entry_ts >= p.range_start - interval '7 days'
        WHERE v.exit_ts IS NOT NULL OR (p_count_open AND v.entry_ts <= p_now)
    ) AS r
),
-- A stay on each local day it touches (almost always one)...
touching AS MATERIALIZED (
    SELECT st.*, st.first_day AS day FROM stays AS st WHERE st.first_day = st.last_day
    UNION ALL
    SELECT st.*, touched.local_day::date
    FROM stays AS st
    CROSS JOIN LATERAL generate_series(st.first_day, st.last_day, interval '1 day')
        AS touched(local_day)
    WHERE st.first_day < st.last_day
),
-- ...cut to that day. A stay still open counts only when it began today. (Byte order sorts
-- the ids several times faster than a linguistic collation.)
clipped AS (
    SELECT k.place_kind COLLATE "C" AS place_kind, k.place_id COLLATE "C" AS place_id, k.day,
           t.user_id COLLATE "C" AS user_id, t.user_name,
           greatest(t.entry_ts, k.day_start) AS s, least(t.exit_ts, k.day_end) AS e,
           t.counts_entry AND t.entry_ts >= k.day_start AS entered
    FROM touching AS t
    JOIN keys AS k ON k.place_kind = t.place_kind AND k.place_id = t.place_id AND k.day = t.day
    WHERE (t.exit_ts > k.day_start OR t.entry_ts = t.exit_ts)
      AND (NOT t.still_open OR (t.entry_ts >= k.day_start AND p_now < k.day_end))
),
-- Sorted by start, a stay adds only what reaches past every earlier stay's end: the sum of
-- those additions is the union's length.
ordered AS (
    SELECT c.*,
           max(c.e) OVER (PARTITION BY c.place_kind, c.place_id, c.day, c.user_id
                          ORDER BY c.s, c.e
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_until
    FROM clipped AS c
)
SELECT o.place_kind, o.place_id, o.day, o.user_id, max(o.user_name),
       sum(greatest(extract(epoch FROM o.e - greatest(o.s, coalesce(o.covered_until, o.s))),
                    0))::double precision,
       (count(*) FILTER (WHERE o.entered))::integer, min(o.s), max(o.e)
FROM ordered AS o
GROUP BY o.place_kind, o.place_id, o.day, o.user_id
$$;

