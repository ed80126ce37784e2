-- Breakouts belong to an organisation: their key is (org_id, id), so two organisations may
-- each have a "maths-101" and neither can take an id from the other. The wire keeps
-- `breakoutId`, resolved within the caller's org.
--
-- Where one text names a breakout among every organisation's (rollups, live presence, rooms),
-- it is its place: org_id || '/' || id ('/' is in neither an org nor a breakout id).

ALTER TABLE attendance_sessions DROP CONSTRAINT attendance_sessions_breakout_id_fkey;
-- A session always had its breakout's org (the desk copies it); make sure before relying on it.
UPDATE attendance_sessions AS s SET org_id = b.org_id
FROM breakouts AS b WHERE b.id = s.breakout_id AND s.org_id <> b.org_id;
ALTER TABLE breakouts DROP CONSTRAINT breakouts_pkey;
ALTER TABLE breakouts ADD PRIMARY KEY (org_id, id);
DROP INDEX breakouts_org;  -- the key's first column serves "the breakouts of an org"
ALTER TABLE attendance_sessions
    ADD CONSTRAINT attendance_sessions_breakout_fkey
    FOREIGN KEY (org_id, breakout_id) REFERENCES breakouts (org_id, id);
DROP INDEX attendance_sessions_open;
CREATE INDEX attendance_sessions_open ON attendance_sessions (org_id, breakout_id)
    WHERE exit_ts IS NULL;
DROP INDEX attendance_sessions_by_time;
CREATE INDEX attendance_sessions_by_time ON attendance_sessions (org_id, breakout_id, entry_ts);

-- Rollups name a breakout by its place.
UPDATE presence_daily AS r SET place_id = b.org_id || '/' || b.id
FROM breakouts AS b
WHERE r.place_kind IN ('breakout', 'recording') AND b.id = r.place_id;
UPDATE presence_daily_stale AS r SET place_id = b.org_id || '/' || b.id
FROM breakouts AS b
WHERE r.place_kind IN ('breakout', 'recording') AND b.id = r.place_id;

CREATE OR REPLACE FUNCTION mark_breakout_days_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_daily_stale (place_kind, place_id, day)
    SELECT DISTINCT CASE c.session_type WHEN 'live' THEN 'breakout' ELSE 'recording' END,
                    c.org_id || '/' || c.breakout_id, d::date
    FROM changed AS c,
         generate_series(date_trunc('day', c.entry_ts AT TIME ZONE 'UTC'),
                         least(date_trunc('day', coalesce(c.exit_ts, c.entry_ts) AT TIME ZONE 'UTC'),
                               date_trunc('day', c.entry_ts AT TIME ZONE 'UTC') + interval '8 days'),
                         interval '1 day') AS d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

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
    LEFT JOIN schools AS sc ON k.place_kind = 'school' AND sc.id = k.place_id
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
    SELECT p.place_kind, p.place_id, p.time_zone, i.user_id, i.user_name, i.entry_ts,
           coalesce(i.exit_ts, p_now) AS exit_ts, i.exit_ts IS NULL AS still_open,
           (i.entry_ts AT TIME ZONE p.time_zone)::date AS first_day,
           (coalesce(i.exit_ts, p_now) AT TIME ZONE p.time_zone)::date AS last_day
    FROM places AS p
    JOIN attendance_sessions AS i
      ON p.place_kind IN ('breakout', 'recording')
     AND i.org_id = split_part(p.place_id, '/', 1) AND i.breakout_id = split_part(p.place_id, '/', 2)
     AND i.session_type = CASE p.place_kind WHEN 'breakout' THEN 'live' ELSE 'on_demand' END
     AND i.entry_ts < p.range_end AND i.entry_ts >= p.range_start - interval '7 days'
    WHERE i.exit_ts IS NOT NULL OR (p_count_open AND i.entry_ts <= p_now)
    UNION ALL
    SELECT p.place_kind, p.place_id, p.time_zone, v.user_id, NULL, v.entry_ts,
           coalesce(v.exit_ts, p_now), v.exit_ts IS NULL,
           (v.entry_ts AT TIME ZONE p.time_zone)::date,
           (coalesce(v.exit_ts, p_now) AT TIME ZONE p.time_zone)::date
    FROM places AS p
    JOIN school_visits AS v
      ON p.place_kind = 'school' AND v.school_id = p.place_id
     AND v.entry_ts < p.range_end AND v.entry_ts >= p.range_start - interval '7 days'
    WHERE v.exit_ts IS NOT NULL OR (p_count_open AND v.entry_ts <= p_now)
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
           t.entry_ts >= k.day_start AS entered
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

-- Analysts see a breakout's own id and its org, as before.
CREATE OR REPLACE VIEW daily_presence AS
SELECT p.place_kind,
       CASE WHEN p.place_kind = 'school' THEN p.place_id
            ELSE split_part(p.place_id, '/', 2) END AS place_id,
       CASE WHEN p.place_kind = 'school' THEN sc.org_id
            ELSE split_part(p.place_id, '/', 1) END AS org_id,
       p.user_id, coalesce(p.user_name, su.name) AS user_name, p.day,
       p.seconds, round((p.seconds / 3600)::numeric, 2) AS hours, p.entries, p.first_in,
       p.last_out
FROM presence_daily AS p
LEFT JOIN schools AS sc ON p.place_kind = 'school' AND sc.id = p.place_id
LEFT JOIN school_users AS su ON p.place_kind = 'school' AND su.id = p.user_id;
