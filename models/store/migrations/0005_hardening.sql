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
