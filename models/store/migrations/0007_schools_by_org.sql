-- Schools and their users belong to an organisation, as breakouts do since 0006: their keys
-- are (org_id, id), so two organisations may each have a "school-1" or a user "ada", and
-- neither can take an id from the other or learn that it is taken. Check events, visits and
-- fever alerts carry their org, so every foreign key stays inside it.
--
-- A school's place (rollups) is org_id || '/' || id, like a breakout's.

ALTER TABLE school_users DROP CONSTRAINT school_users_school_id_fkey;
ALTER TABLE check_events DROP CONSTRAINT check_events_school_id_fkey;
ALTER TABLE check_events DROP CONSTRAINT check_events_user_id_fkey;
ALTER TABLE school_visits DROP CONSTRAINT school_visits_school_id_fkey;
ALTER TABLE fever_alerts DROP CONSTRAINT fever_alerts_school_id_fkey;

-- Each row takes its school's org (a user, event, visit or alert always had its school's).
ALTER TABLE school_users ADD COLUMN org_id text;
UPDATE school_users AS r SET org_id = s.org_id FROM schools AS s WHERE s.id = r.school_id;
ALTER TABLE school_users ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE check_events ADD COLUMN org_id text;
UPDATE check_events AS r SET org_id = s.org_id FROM schools AS s WHERE s.id = r.school_id;
ALTER TABLE check_events ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE school_visits ADD COLUMN org_id text;
UPDATE school_visits AS r SET org_id = s.org_id FROM schools AS s WHERE s.id = r.school_id;
ALTER TABLE school_visits ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE fever_alerts ADD COLUMN org_id text;
UPDATE fever_alerts AS r SET org_id = s.org_id FROM schools AS s WHERE s.id = r.school_id;
ALTER TABLE fever_alerts ALTER COLUMN org_id SET NOT NULL;

ALTER TABLE schools DROP CONSTRAINT schools_pkey;
ALTER TABLE schools ADD PRIMARY KEY (org_id, id);
DROP INDEX schools_org;  -- the key's first column serves "the schools of an org"
ALTER TABLE school_users DROP CONSTRAINT school_users_pkey;
ALTER TABLE school_users ADD PRIMARY KEY (org_id, id);

-- A user moves only between schools of their org; events and visits stay in theirs.
ALTER TABLE school_users ADD CONSTRAINT school_users_school_fkey
    FOREIGN KEY (org_id, school_id) REFERENCES schools (org_id, id);
ALTER TABLE check_events ADD CONSTRAINT check_events_school_fkey
    FOREIGN KEY (org_id, school_id) REFERENCES schools (org_id, id);
ALTER TABLE check_events ADD CONSTRAINT check_events_user_fkey
    FOREIGN KEY (org_id, user_id) REFERENCES school_users (org_id, id);
ALTER TABLE school_visits ADD CONSTRAINT school_visits_school_fkey
    FOREIGN KEY (org_id, school_id) REFERENCES schools (org_id, id);
ALTER TABLE fever_alerts ADD CONSTRAINT fever_alerts_school_fkey
    FOREIGN KEY (org_id, school_id) REFERENCES schools (org_id, id);

DROP INDEX school_users_school;
CREATE INDEX school_users_school ON school_users (org_id, school_id);
DROP INDEX check_events_school_at;
CREATE INDEX check_events_school_at ON check_events (org_id, school_id, at);
DROP INDEX check_events_user_at;
CREATE INDEX check_events_user_at ON check_events (org_id, user_id, at);
-- An event listing of the whole org pages by id.
CREATE INDEX check_events_org ON check_events (org_id, id);
DROP INDEX school_visits_one_open;
CREATE UNIQUE INDEX school_visits_one_open ON school_visits (org_id, user_id)
    WHERE exit_ts IS NULL;
DROP INDEX school_visits_by_time;
CREATE INDEX school_visits_by_time ON school_visits (org_id, school_id, entry_ts);
DROP INDEX school_visits_open;
CREATE INDEX school_visits_open ON school_visits (org_id, school_id) WHERE exit_ts IS NULL;
DROP INDEX fever_alerts_school;
CREATE INDEX fever_alerts_school ON fever_alerts (org_id, school_id, at DESC);

-- Rollups name a school by its place.
UPDATE presence_daily AS r SET place_id = s.org_id || '/' || s.id
FROM schools AS s
WHERE r.place_kind = 'school' AND s.id = r.place_id;
UPDATE presence_daily_stale AS r SET place_id = s.org_id || '/' || s.id
FROM schools AS s
WHERE r.place_kind = 'school' AND s.id = r.place_id;

CREATE OR REPLACE FUNCTION mark_school_days_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_daily_stale (place_kind, place_id, day)
    SELECT DISTINCT 'school', c.org_id || '/' || c.school_id, d::date
    FROM changed AS c
    JOIN schools AS sc ON sc.org_id = c.org_id AND sc.id = c.school_id,
         generate_series(date_trunc('day', c.entry_ts AT TIME ZONE sc.time_zone),
                         least(date_trunc('day', coalesce(c.exit_ts, c.entry_ts)
                                                 AT TIME ZONE sc.time_zone),
                               date_trunc('day', c.entry_ts AT TIME ZONE sc.time_zone)
                                   + interval '8 days'),
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
      ON p.place_kind = 'school'
     AND v.org_id = split_part(p.place_id, '/', 1) AND v.school_id = split_part(p.place_id, '/', 2)
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

-- Analysts see a school's own id and its org, as a breakout's.
CREATE OR REPLACE VIEW daily_presence AS
SELECT p.place_kind, split_part(p.place_id, '/', 2) AS place_id,
       split_part(p.place_id, '/', 1) AS org_id,
       p.user_id, coalesce(p.user_name, su.name) AS user_name, p.day,
       p.seconds, round((p.seconds / 3600)::numeric, 2) AS hours, p.entries, p.first_in,
       p.last_out
FROM presence_daily AS p
LEFT JOIN school_users AS su
  ON p.place_kind = 'school'
 AND su.org_id = split_part(p.place_id, '/', 1) AND su.id = p.user_id;

CREATE OR REPLACE VIEW presence_intervals AS
SELECT CASE s.session_type WHEN 'live' THEN 'breakout' ELSE 'recording' END AS place_kind,
       s.breakout_id AS place_id, s.org_id, s.user_id,
       s.user_name, s.entry_ts, s.exit_ts, 'UTC'::text AS time_zone
FROM attendance_sessions AS s
UNION ALL
SELECT 'school'::text, v.school_id, v.org_id, v.user_id, u.name, v.entry_ts, v.exit_ts,
       sc.time_zone
FROM school_visits AS v
JOIN schools AS sc ON sc.org_id = v.org_id AND sc.id = v.school_id
JOIN school_users AS u ON u.org_id = v.org_id AND u.id = v.user_id;

CREATE OR REPLACE VIEW school_check_events AS
SELECT e.id, e.school_id, e.org_id, e.user_id, u.name AS user_name, e.kind, e.at,
       e.at AT TIME ZONE sc.time_zone AS local_time, e.temperature, e.temperature >= 38 AS fever
FROM check_events AS e
JOIN schools AS sc ON sc.org_id = e.org_id AND sc.id = e.school_id
JOIN school_users AS u ON u.org_id = e.org_id AND u.id = e.user_id;
