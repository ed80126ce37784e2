-- A school's time zone must be one PostgreSQL knows: an unknown one made every check-in there
-- fail, and stopped the rollups of every organisation (they convert each place's days).
CREATE FUNCTION is_time_zone(zone text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END
$$;
-- Such a school (Python accepted names like right/UTC, posixrules, localtime) is put on UTC.
UPDATE schools SET time_zone = 'UTC' WHERE NOT is_time_zone(time_zone);
ALTER TABLE schools ADD CONSTRAINT schools_time_zone_known CHECK (is_time_zone(time_zone));

-- A day whose rollup failed waits before it is tried again, so it never holds back the others.
ALTER TABLE presence_daily_stale ADD COLUMN failed_at timestamptz;

-- Who posted a check event (the user themself, or an admin entering it for them).
ALTER TABLE check_events ADD COLUMN entered_by text;

-- A stay counts on the days it touches, but reports look for stays at most 7 days before the
-- day they cover (presence_by_day): later days of a longer stay never count, so marking them
-- stale was only work. A visit from the year 1500 marked 192,454 days; now at most 9. (The
-- breakout sessions' trigger gets the same bound in 0006, which re-keys breakouts by org.)
CREATE OR REPLACE FUNCTION mark_school_days_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO presence_daily_stale (place_kind, place_id, day)
    SELECT DISTINCT 'school', c.school_id, d::date
    FROM changed AS c
    JOIN schools AS sc ON sc.id = c.school_id,
         generate_series(date_trunc('day', c.entry_ts AT TIME ZONE sc.time_zone),
                         least(date_trunc('day', coalesce(c.exit_ts, c.entry_ts)
                                                 AT TIME ZONE sc.time_zone),
                               date_trunc('day', c.entry_ts AT TIME ZONE sc.time_zone)
                                   + interval '8 days'),
                         interval '1 day') AS d
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
