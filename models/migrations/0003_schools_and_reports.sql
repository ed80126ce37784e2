-- Schools, their users and check-in/check-out events; one presence-interval view over school
-- visits and breakout sessions; daily rollups of it; breakout attendance policies; analyst views.

CREATE TABLE schools (
    id          text PRIMARY KEY,
    org_id      text NOT NULL,
    name        text NOT NULL,
    -- An IANA zone: days, weeks and months of the school's reports are local to it.
    time_zone   text NOT NULL DEFAULT 'UTC',
    -- ISO weekdays (1 = Monday) that count as school days in week and month reports.
    school_days smallint[] NOT NULL DEFAULT '{1,2,3,4,5}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schools_org ON schools (org_id);

-- A user belongs to exactly one school; the id is the `sub` of the user's tokens.
CREATE TABLE school_users (
    id         text PRIMARY KEY,
    school_id  text NOT NULL REFERENCES schools (id),
    name       text NOT NULL,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX school_users_school ON school_users (school_id);

CREATE TABLE check_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id   text NOT NULL REFERENCES schools (id),
    user_id     text NOT NULL REFERENCES school_users (id),
    kind        text NOT NULL CHECK (kind IN ('checkin', 'checkout')),
    at          timestamptz NOT NULL,
    temperature double precision NOT NULL CHECK (temperature > 28 AND temperature < 43),
    -- A URL or a reference into an object store; never the image itself.
    image       text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_events_school_at ON check_events (school_id, at);
CREATE INDEX check_events_user_at ON check_events (user_id, at);

-- A check-in and its check-out as one interval; at most one open visit per user.
CREATE TABLE school_visits (
    checkin_id  bigint PRIMARY KEY REFERENCES check_events (id),
    checkout_id bigint UNIQUE REFERENCES check_events (id),
    school_id   text NOT NULL REFERENCES schools (id),
    user_id     text NOT NULL,
    entry_ts    timestamptz NOT NULL,
    exit_ts     timestamptz,
    CHECK ((exit_ts IS NULL) = (checkout_id IS NULL)),
    CHECK (exit_ts IS NULL OR exit_ts >= entry_ts)
);
CREATE UNIQUE INDEX school_visits_one_open ON school_visits (user_id) WHERE exit_ts IS NULL;
CREATE INDEX school_visits_by_time ON school_visits (school_id, entry_ts);

CREATE TABLE fever_alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    bigint NOT NULL UNIQUE REFERENCES check_events (id) ON DELETE CASCADE,
    school_id   text NOT NULL REFERENCES schools (id),
    user_id     text NOT NULL,
    temperature double precision NOT NULL,
    at          timestamptz NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fever_alerts_school ON fever_alerts (school_id, at DESC);

-- Who counts as present in a breakout: at least this many minutes, or this share of its
-- schedule. NULL takes the server's default; a breakout sets at most one of them.
ALTER TABLE breakouts
    ADD COLUMN present_min_minutes integer CHECK (present_min_minutes >= 0),
    ADD COLUMN present_min_percent double precision
        CHECK (present_min_percent >= 0 AND present_min_percent <= 100),
    ADD CONSTRAINT breakouts_one_presence_rule
        CHECK (num_nonnulls(present_min_minutes, present_min_percent) <= 1);

-- Every stay of a user in a place, whatever recorded it. Breakout days are UTC days; a
-- school's days are local to its time zone.
CREATE VIEW presence_intervals AS
SELECT 'breakout'::text AS place_kind, s.breakout_id AS place_id, s.org_id, s.user_id,
       s.entry_ts, s.exit_ts, 'UTC'::text AS time_zone
FROM attendance_sessions AS s
UNION ALL
SELECT 'school'::text, v.school_id, sc.org_id, v.user_id, v.entry_ts, v.exit_ts, sc.time_zone
FROM school_visits AS v
JOIN schools AS sc ON sc.id = v.school_id;

-- Per user, place and local day: the union of the user's closed intervals (overlaps count once).
CREATE TABLE presence_daily (
    place_kind text NOT NULL CHECK (place_kind IN ('breakout', 'school')),
    place_id   text NOT NULL,
    day        date NOT NULL,
    user_id    text NOT NULL,
    seconds    double precision NOT NULL,
    -- Intervals that began on this day.
    entries    integer NOT NULL,
    first_in   timestamptz NOT NULL,
    last_out   timestamptz NOT NULL,
    PRIMARY KEY (place_kind, place_id, day, user_id)
);

-- Days whose rollup no longer matches the intervals; reports compute them live until the
-- rollup job has redone them.
CREATE TABLE presence_daily_stale (
    place_kind text NOT NULL,
    place_id   text NOT NULL,
    day        date NOT NULL,
    PRIMARY KEY (place_kind, place_id, day)
);

-- Statement-level, so a batch of a thousand session writes adds one INSERT, not a thousand.
CREATE FUNCTION mark_breakout_days_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_daily_stale (place_kind, place_id, day)
    SELECT DISTINCT 'breakout', c.breakout_id, d::date
    FROM changed AS c,
         generate_series(date_trunc('day', c.entry_ts AT TIME ZONE 'UTC'),
                         date_trunc('day', coalesce(c.exit_ts, c.entry_ts) AT TIME ZONE 'UTC'),
                         interval '1 day') AS d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER attendance_sessions_inserted AFTER INSERT ON attendance_sessions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mark_breakout_days_stale();
CREATE TRIGGER attendance_sessions_updated AFTER UPDATE ON attendance_sessions
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mark_breakout_days_stale();

CREATE FUNCTION mark_school_days_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_daily_stale (place_kind, place_id, day)
    SELECT DISTINCT 'school', c.school_id, d::date
    FROM changed AS c
    JOIN schools AS sc ON sc.id = c.school_id,
         generate_series(date_trunc('day', c.entry_ts AT TIME ZONE sc.time_zone),
                         date_trunc('day', coalesce(c.exit_ts, c.entry_ts)
                                           AT TIME ZONE sc.time_zone),
                         interval '1 day') AS d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER school_visits_inserted AFTER INSERT ON school_visits
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mark_school_days_stale();
CREATE TRIGGER school_visits_updated AFTER UPDATE ON school_visits
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mark_school_days_stale();
CREATE TRIGGER school_visits_deleted AFTER DELETE ON school_visits
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION mark_school_days_stale();

-- Per (place, local day) of the keys: each user's time there, the union of their stays (an
-- overlap counts once), clipped to the day. Closed stays only, unless p_count_open: then a stay
-- still open counts up to p_now on the day that holds p_now. A stay is looked for up to 7 days
-- before the day it covers; longer ones are cut there.
CREATE FUNCTION presence_by_day(p_kinds text[], p_ids text[], p_days date[], p_now timestamptz,
                                p_count_open boolean)
RETURNS TABLE (place_kind text, place_id text, day date, user_id text,
               seconds double precision, entries integer, first_in timestamptz,
               last_out timestamptz)
LANGUAGE sql STABLE AS $$
WITH keys AS (
    SELECT k.place_kind, k.place_id, k.day,
           k.day::timestamp AT TIME ZONE coalesce(sc.time_zone, 'UTC') AS day_start,
           (k.day + 1)::timestamp AT TIME ZONE coalesce(sc.time_zone, 'UTC') AS day_end
    FROM unnest(p_kinds, p_ids, p_days) AS k(place_kind, place_id, day)
    LEFT JOIN schools AS sc ON k.place_kind = 'school' AND sc.id = k.place_id
),
clipped AS (
    SELECT k.place_kind, k.place_id, k.day, i.user_id,
           greatest(i.entry_ts, k.day_start) AS s,
           least(coalesce(i.exit_ts, p_now), k.day_end) AS e,
           i.entry_ts >= k.day_start AS entered
    FROM keys AS k
    JOIN presence_intervals AS i
      ON i.place_kind = k.place_kind AND i.place_id = k.place_id
     AND i.entry_ts < k.day_end AND i.entry_ts >= k.day_start - interval '7 days'
     AND coalesce(i.exit_ts, p_now) > k.day_start
    WHERE i.exit_ts IS NOT NULL OR (p_count_open AND k.day_start <= p_now AND p_now < k.day_end)
),
marked AS (
    SELECT c.*,
           CASE WHEN c.s <= max(c.e) OVER earlier THEN 0 ELSE 1 END AS opens_island
    FROM clipped AS c
    WINDOW earlier AS (PARTITION BY c.place_id, c.day, c.user_id ORDER BY c.s, c.e
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
numbered AS (
    SELECT m.*,
           sum(m.opens_island) OVER (PARTITION BY m.place_id, m.day, m.user_id ORDER BY m.s, m.e
                                     ROWS UNBOUNDED PRECEDING) AS island
    FROM marked AS m
),
islands AS (
    SELECT place_kind, place_id, day, user_id, min(s) AS s, max(e) AS e,
           count(*) FILTER (WHERE entered) AS entries
    FROM numbered
    GROUP BY place_kind, place_id, day, user_id, island
),
computed AS (
    SELECT place_kind, place_id, day, user_id,
           sum(extract(epoch FROM e - s))::double precision AS seconds,
           sum(entries)::integer AS entries, min(s) AS first_in, max(e) AS last_out
    FROM islands
    GROUP BY place_kind, place_id, day, user_id
)
SELECT * FROM computed
$$;

-- For analysts and BI tools (README "SQL for analysts"): per user, place and day, the rolled-up
-- closed days. Read with the `attendance_analyst` role, which may read the views only.
CREATE VIEW daily_presence AS
SELECT p.place_kind, p.place_id, coalesce(b.org_id, sc.org_id) AS org_id, p.user_id, p.day,
       p.seconds, round((p.seconds / 3600)::numeric, 2) AS hours, p.entries, p.first_in,
       p.last_out
FROM presence_daily AS p
LEFT JOIN breakouts AS b ON p.place_kind = 'breakout' AND b.id = p.place_id
LEFT JOIN schools AS sc ON p.place_kind = 'school' AND sc.id = p.place_id;

CREATE VIEW school_check_events AS
SELECT e.id, e.school_id, sc.org_id, e.user_id, u.name AS user_name, e.kind, e.at,
       e.at AT TIME ZONE sc.time_zone AS local_time, e.temperature, e.temperature >= 38 AS fever
FROM check_events AS e
JOIN schools AS sc ON sc.id = e.school_id
JOIN school_users AS u ON u.id = e.user_id;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        CREATE ROLE attendance_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no CREATEROLE: create the attendance_analyst role by hand (README)';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON attended, daily_presence, school_check_events, presence_intervals
            TO attendance_analyst;
    END IF;
END $$;
