-- The breakouts' daily rollups are kept by time like the sessions they are made of, so that
-- retention drops a month of them whole (README "Partitions"): `presence_daily` is listed by
-- kind, the schools' rollups in one partition (kept as long as the school's own record), the
-- breakouts' and recordings' in `presence_daily_breakouts`, range-partitioned by day (in UTC
-- days, the days they are counted on) and made ahead by the same job as the other tables.
--
-- A running install keeps its breakout rollups where they are: the old table becomes
-- `presence_daily_breakouts_legacy`, the partition of every day before next month (or the
-- month after its newest day), with no row copied; the schools' rollups move to their
-- partition. This locks the rollups (reports and the rollup job wait), never the hot path,
-- which writes only `presence_daily_stale`.

LOCK TABLE presence_daily, daily_presence IN ACCESS EXCLUSIVE MODE;

-- The partitions' ranges, read from the catalogue: a date bound is the start of that day in
-- UTC (a timestamp bound names its own offset).
CREATE FUNCTION partition_bound(p_bound text, p_key regtype) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_key = 'date'::regtype THEN p_bound::date::timestamp AT TIME ZONE 'UTC'
                ELSE p_bound::timestamptz END
$$;

CREATE OR REPLACE VIEW time_partitions AS
SELECT parent.relname::text AS parent, child.relname::text AS partition,
       bound.expr = 'DEFAULT' AS is_default,
       CASE WHEN bound.expr LIKE 'FOR VALUES FROM (''%'
            THEN partition_bound(substring(bound.expr FROM 'FROM \(''([^'']+)''\)'), key.type)
       END AS lower,
       CASE WHEN bound.expr LIKE '% TO (''%'
            THEN partition_bound(substring(bound.expr FROM 'TO \(''([^'']+)''\)'), key.type)
       END AS upper
FROM pg_inherits AS i
JOIN pg_class AS parent ON parent.oid = i.inhparent
JOIN pg_class AS child ON child.oid = i.inhrelid
JOIN pg_partitioned_table AS pt ON pt.partrelid = parent.oid
JOIN pg_attribute AS a ON a.attrelid = parent.oid AND a.attnum = pt.partattrs[0]
CROSS JOIN LATERAL (SELECT pg_get_expr(child.relpartbound, child.oid) AS expr) AS bound
CROSS JOIN LATERAL (SELECT a.atttypid::regtype AS type) AS key
JOIN pg_namespace AS n ON n.oid = parent.relnamespace
WHERE parent.relkind = 'p' AND n.nspname = current_schema()
  AND parent.relname IN ('attendance_sessions', 'session_interruptions', 'session_activity',
                         'comments', 'check_events', 'presence_daily_breakouts');

-- As in 0016, for a partition key of type date too: its bounds are UTC days.
CREATE OR REPLACE FUNCTION create_time_partitions(p_parent text, p_column text, p_unit text,
                                                  p_from timestamptz, p_to timestamptz)
RETURNS text[] LANGUAGE plpgsql
SET lock_timeout = '5s' AS $$
DECLARE
    step interval := ('1 ' || p_unit)::interval;
    lo timestamptz := date_trunc(p_unit, p_from, 'UTC');
    hi timestamptz;
    name text;
    made text[] := '{}';
    held_until timestamptz;
    next_held timestamptz;
    by_day boolean := (SELECT a.atttypid = 'date'::regtype FROM pg_attribute AS a
                       WHERE a.attrelid = p_parent::regclass AND a.attname = p_column);
    lo_bound text;
    hi_bound text;
BEGIN
    IF p_unit NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'partition unit % is not day, week or month', p_unit;
    END IF;
    PERFORM pg_advisory_xact_lock(71402026);  -- nodes starting at once make each one once
    WHILE lo < p_to LOOP
        hi := date_trunc(p_unit, lo + step, 'UTC');
        -- Leave what existing partitions hold; fill only the gap (an earlier unit's edges).
        SELECT max(upper) INTO held_until FROM time_partitions
        WHERE parent = p_parent AND NOT is_default AND coalesce(lower, '-infinity') <= lo
          AND coalesce(upper, 'infinity') > lo;
        IF held_until IS NOT NULL THEN
            lo := greatest(lo, coalesce(held_until, 'infinity'));
            CONTINUE WHEN lo >= hi;
        END IF;
        SELECT min(lower) INTO next_held FROM time_partitions
        WHERE parent = p_parent AND NOT is_default AND lower > lo AND lower < hi;
        hi := coalesce(next_held, hi);
        IF by_day THEN
            lo_bound := (lo AT TIME ZONE 'UTC')::date::text;
            hi_bound := (hi AT TIME ZONE 'UTC')::date::text;
        ELSE
            lo_bound := lo::text;
            hi_bound := hi::text;
        END IF;
        name := format('%s_p%s', p_parent, to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD'));
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       name, p_parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %L AND %I < %L RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved',
                       p_parent || '_default', p_column, lo_bound, p_column, hi_bound, name);
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       p_parent, name, lo_bound, hi_bound);
        made := made || name;
        lo := hi;
    END LOOP;
    RETURN made;
END
$$;

DO $$
DECLARE
    newest date;
    cutover date := (date_trunc('month', now(), 'UTC') + interval '1 month')::date;
BEGIN
    ALTER TABLE presence_daily RENAME TO presence_daily_breakouts_legacy;
    ALTER TABLE presence_daily_breakouts_legacy
        RENAME CONSTRAINT presence_daily_pkey TO presence_daily_breakouts_legacy_pkey;
    CREATE TABLE presence_daily (LIKE presence_daily_breakouts_legacy INCLUDING DEFAULTS
                                 INCLUDING CONSTRAINTS) PARTITION BY LIST (place_kind);
    ALTER TABLE presence_daily ADD PRIMARY KEY (place_kind, place_id, day, user_id);
    CREATE TABLE presence_daily_schools PARTITION OF presence_daily FOR VALUES IN ('school');
    CREATE TABLE presence_daily_breakouts PARTITION OF presence_daily
        FOR VALUES IN ('breakout', 'recording') PARTITION BY RANGE (day);
    CREATE TABLE presence_daily_breakouts_default PARTITION OF presence_daily_breakouts DEFAULT;
    WITH moved AS (
        DELETE FROM presence_daily_breakouts_legacy WHERE place_kind = 'school' RETURNING *
    )
    INSERT INTO presence_daily_schools SELECT * FROM moved;
    SELECT max(day) INTO newest FROM presence_daily_breakouts_legacy;
    IF newest IS NULL THEN
        DROP TABLE presence_daily_breakouts_legacy CASCADE;  -- its view is remade below
    ELSE
        cutover := greatest(cutover,
                            (date_trunc('month', newest::timestamp) + interval '1 month')::date);
        EXECUTE format('ALTER TABLE presence_daily_breakouts ATTACH PARTITION '
                       'presence_daily_breakouts_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                       cutover);
    END IF;
END
$$;

-- The analysts' view named the old table (it followed the rename): over the new one, with its
-- grants kept (CREATE OR REPLACE), or made again where the old table was dropped.
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

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON daily_presence TO attendance_analyst;
    END IF;
END
$$;
