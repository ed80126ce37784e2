-- The record grows by time, so it is kept by time: the sessions, their interruptions and
-- activity, the comments and the check events are range-partitioned on a time column (README
-- "Partitions").
-- Partitions are made ahead by the server (models/jobs/partitions.py, PARTITION_INTERVAL);
-- retention drops whole ones. A default partition catches a row outside them, and is reported.
--
-- A running install keeps its rows where they are: each old table becomes the parent's first
-- partition, `<table>_legacy`, holding everything before the start of next month (or of the
-- month after its newest row), with no row copied. What this locks, and for how long, is
-- measured by bench/partition_migration.py (README "Partitions").
--
-- A key must hold the partition column, so a session's key is (user, breakout, session id,
-- entry time): session ids are unique by themselves (made by the server), and a replayed open
-- carries its entry time. The interruptions and activity no longer name their session by a
-- foreign key: one referencing a partitioned table makes dropping a month check every row of
-- it; they are written only beside their session, and retention takes them with it. Likewise
-- school visits and fever alerts name their check events by id alone, written in the same
-- transaction as the event (models/schools/checkins.py), which deletes them with it.

-- The views over these tables name the old ones: keep their text and grants, drop them, and
-- make them again over the partitioned tables, innermost first.
CREATE TEMPORARY TABLE remade_views ON COMMIT DROP AS
WITH RECURSIVE over (view, depth) AS (
    SELECT r.ev_class, 1
    FROM pg_depend AS d JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass
      AND d.refobjid IN ('attendance_sessions'::regclass, 'session_interruptions'::regclass,
                         'session_activity'::regclass, 'comments'::regclass,
                         'check_events'::regclass)
      AND r.ev_class <> d.refobjid
    UNION
    SELECT r.ev_class, over.depth + 1
    FROM over
    JOIN pg_depend AS d ON d.refobjid = over.view AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite AS r ON r.oid = d.objid
    WHERE r.ev_class <> over.view
)
SELECT c.relname::text AS name, max(o.depth) AS depth,
       pg_get_viewdef(c.oid) AS definition,
       (SELECT coalesce(array_agg(g.grantee::text), '{}')
        FROM information_schema.role_table_grants AS g
        WHERE g.table_name = c.relname AND g.privilege_type = 'SELECT'
          AND g.grantee <> current_user) AS readers
FROM over AS o JOIN pg_class AS c ON c.oid = o.view
GROUP BY c.oid, c.relname;

-- Every table (and view over them) this migration changes, locked before it changes any: the
-- hot path takes the same tables in other orders (a batch locks breakouts then sessions, a
-- comment's foreign key comments then breakouts), so waiting for one while holding another
-- could deadlock with a write. Each try waits 50 ms at most and lets go of all it got: writes
-- wait for the migration, never die for it.
DO $$
DECLARE
    tries integer := 0;
    names text := (SELECT string_agg(format('%I', name), ', ') FROM remade_views);
BEGIN
    PERFORM set_config('lock_timeout', '50ms', true);
    LOOP
        BEGIN
            EXECUTE 'LOCK TABLE ' || coalesce(names || ', ', '') || 'comments, breakouts, '
                    'attendance_sessions, session_interruptions, session_activity, '
                    'check_events, school_visits, fever_alerts IN ACCESS EXCLUSIVE MODE';
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            tries := tries + 1;
            IF tries >= 3000 THEN
                RAISE EXCEPTION 'migration 0016 could not lock the record''s tables in 5 minutes';
            END IF;
            PERFORM pg_sleep(0.05 + random() * 0.05);
        END;
    END LOOP;
    PERFORM set_config('lock_timeout', '0', true);
END
$$;

-- Sessions and comments of a breakout begin no earlier than this: queries of one breakout's
-- record read the partitions from there on only. Made an hour before the breakout (any node's
-- clock may be behind the database's), and moved back by the triggers below when a row says
-- otherwise (an import, a seed, a journal replayed long after).
ALTER TABLE breakouts ADD COLUMN sessions_from timestamptz;
UPDATE breakouts AS b
SET sessions_from = least(
    b.created_at - interval '1 hour',
    (SELECT min(s.entry_ts) FROM attendance_sessions AS s
     WHERE s.org_id = b.org_id AND s.breakout_id = b.id),
    (SELECT min(c.created_at) FROM comments AS c
     WHERE c.org_id = b.org_id AND c.breakout_id = b.id));
ALTER TABLE breakouts
    ALTER COLUMN sessions_from SET DEFAULT now() - interval '1 hour',
    ALTER COLUMN sessions_from SET NOT NULL;

CREATE FUNCTION breakout_record_begins(p_org text, p_id text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT sessions_from FROM breakouts WHERE org_id = p_org AND id = p_id
$$;

-- The partitions of each time-partitioned table with their ranges (NULL: unbounded; both NULL:
-- the default partition), read from the catalogue.
CREATE VIEW time_partitions AS
SELECT parent.relname::text AS parent, child.relname::text AS partition,
       bound.expr = 'DEFAULT' AS is_default,
       CASE WHEN bound.expr LIKE 'FOR VALUES FROM (''%'
            THEN substring(bound.expr FROM 'FROM \(''([^'']+)''\)')::timestamptz END AS lower,
       CASE WHEN bound.expr LIKE '% TO (''%'
            THEN substring(bound.expr FROM 'TO \(''([^'']+)''\)')::timestamptz END AS upper
FROM pg_inherits AS i
JOIN pg_class AS parent ON parent.oid = i.inhparent
JOIN pg_class AS child ON child.oid = i.inhrelid
CROSS JOIN LATERAL (SELECT pg_get_expr(child.relpartbound, child.oid) AS expr) AS bound
JOIN pg_namespace AS n ON n.oid = parent.relnamespace
WHERE parent.relkind = 'p' AND n.nspname = current_schema()
  AND parent.relname IN ('attendance_sessions', 'session_interruptions', 'session_activity',
                         'comments', 'check_events');

-- The partitions of `p_parent` (ranged on `p_column`) that cover [p_from, p_to) in whole
-- `p_unit`s (day, week, month; UTC), named <parent>_p<first day>. A range another partition
-- holds is left to it; rows of a new range that the default partition caught move into it.
-- Returns the partitions made.
CREATE FUNCTION create_time_partitions(p_parent text, p_column text, p_unit text,
                                       p_from timestamptz, p_to timestamptz)
RETURNS text[] LANGUAGE plpgsql
-- Attaching takes a lock on the parent that writes pass, but waits behind a long report: give
-- up after a while (the next round tries again) rather than queue the hot path behind it.
SET lock_timeout = '5s' AS $$
DECLARE
    step interval := ('1 ' || p_unit)::interval;
    lo timestamptz := date_trunc(p_unit, p_from, 'UTC');
    hi timestamptz;
    name text;
    made text[] := '{}';
    held_until timestamptz;
    next_held timestamptz;
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
        name := format('%s_p%s', p_parent, to_char(lo AT TIME ZONE 'UTC', 'YYYYMMDD'));
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       name, p_parent);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved',
                       p_parent || '_default', p_column, p_column, name)
            USING lo, hi;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       p_parent, name, lo, hi);
        made := made || name;
        lo := hi;
    END LOOP;
    RETURN made;
END
$$;

-- How many rows each default partition holds (counted up to a million): rows outside every
-- partition, which the maintenance reports.
CREATE FUNCTION default_partition_rows() RETURNS TABLE (parent text, rows bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT t.parent, t.partition FROM time_partitions AS t WHERE t.is_default LOOP
        parent := p.parent;
        EXECUTE format('SELECT count(*) FROM (SELECT FROM %I LIMIT 1000000) AS r', p.partition)
            INTO rows;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Retention: drops every partition of `p_parent` that holds only times before `p_before`,
-- oldest first; returns their names. (Dropping one waits for the queries reading the parent.)
CREATE FUNCTION drop_time_partitions(p_parent text, p_before timestamptz) RETURNS text[]
LANGUAGE plpgsql SET lock_timeout = '5s' AS $$
DECLARE
    p record;
    dropped text[] := '{}';
BEGIN
    FOR p IN
        SELECT t.partition FROM time_partitions AS t
        WHERE t.parent = p_parent AND NOT t.is_default AND t.upper <= p_before
        ORDER BY t.upper
    LOOP
        EXECUTE format('DROP TABLE %I', p.partition);
        DELETE FROM anonymised_partitions WHERE partition = p.partition;
        dropped := dropped || p.partition;
    END LOOP;
    RETURN dropped;
END
$$;

-- Partitions whose rows older than the retention cut were all anonymised (and none was still
-- open): the next purges start after them. A dropped partition's mark goes with it.
CREATE TABLE anonymised_partitions (
    partition     text PRIMARY KEY,
    anonymised_at timestamptz NOT NULL DEFAULT now()
);

-- Turns `p_table` into a table range-partitioned on `p_column` with primary key `p_key`: the
-- old table, renamed <table>_legacy, becomes its partition for everything before `p_cutover`
-- (dropped instead when it is empty), beside a default partition. Its indexes, checks,
-- foreign keys and triggers are the parent's; the views over it are the caller's to remake.
CREATE FUNCTION partition_by_time(p_table text, p_column text, p_key text, p_cutover timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    legacy text := p_table || '_legacy';
    indexes text[];
    foreign_keys text[];
    triggers text[];
    statement text;
    newest timestamptz;
    cutover timestamptz := p_cutover;
BEGIN
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p_table);
    SELECT coalesce(array_agg(pg_get_indexdef(x.indexrelid)), '{}') INTO indexes
    FROM pg_index AS x WHERE x.indrelid = p_table::regclass AND NOT x.indisprimary;
    SELECT coalesce(array_agg(format('ALTER TABLE %I ADD CONSTRAINT %I %s', p_table, c.conname,
                                     pg_get_constraintdef(c.oid))), '{}')
    INTO foreign_keys
    FROM pg_constraint AS c WHERE c.conrelid = p_table::regclass AND c.contype = 'f';
    SELECT coalesce(array_agg(pg_get_triggerdef(t.oid)), '{}') INTO triggers
    FROM pg_trigger AS t WHERE t.tgrelid = p_table::regclass AND NOT t.tgisinternal;
    -- A partition may hold no trigger with transition tables; the parent's fire for it.
    FOR statement IN
        SELECT format('DROP TRIGGER %I ON %I', t.tgname, p_table)
        FROM pg_trigger AS t WHERE t.tgrelid = p_table::regclass AND NOT t.tgisinternal
    LOOP
        EXECUTE statement;
    END LOOP;
    -- The names go to the parent's; the legacy table's objects keep theirs with a suffix.
    FOR statement IN
        SELECT format('ALTER INDEX %I RENAME TO %I', i.relname, left(i.relname, 55) || '_legacy')
        FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
        WHERE x.indrelid = p_table::regclass AND NOT x.indisprimary
    LOOP
        EXECUTE statement;
    END LOOP;
    EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I', p_table, p_table || '_pkey',
                   legacy || '_pkey');
    EXECUTE format('ALTER TABLE %I RENAME TO %I', p_table, legacy);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
                   'PARTITION BY RANGE (%I)', p_table, legacy, p_column);
    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (%s)', p_table, p_key);
    FOREACH statement IN ARRAY indexes || foreign_keys || triggers LOOP
        EXECUTE statement;
    END LOOP;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_table || '_default', p_table);
    EXECUTE format('SELECT max(%I) FROM %I', p_column, legacy) INTO newest;
    IF newest IS NULL THEN
        EXECUTE format('DROP TABLE %I', legacy);
        RETURN;
    END IF;
    cutover := greatest(cutover, date_trunc('month', newest, 'UTC') + interval '1 month');
    -- The legacy table's key becomes the parent's (its old key goes; nothing references it).
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, legacy || '_pkey');
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (%s)', legacy, legacy || '_pkey',
                   p_key);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I < %L)', legacy,
                   legacy || '_range', p_column, cutover);
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                   p_table, legacy, cutover);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', legacy, legacy || '_range');
END
$$;

DO $$
DECLARE
    v record;
    reader text;
    cutover timestamptz := date_trunc('month', now(), 'UTC') + interval '1 month';
BEGIN
    FOR v IN SELECT name FROM remade_views ORDER BY depth DESC LOOP
        EXECUTE format('DROP VIEW %I', v.name);
    END LOOP;
    ALTER TABLE session_interruptions
        DROP CONSTRAINT session_interruptions_user_id_breakout_id_session_id_fkey;
    ALTER TABLE session_activity
        DROP CONSTRAINT session_activity_user_id_breakout_id_session_id_fkey;
    PERFORM partition_by_time('attendance_sessions', 'entry_ts',
                              'user_id, breakout_id, session_id, entry_ts', cutover);
    PERFORM partition_by_time('session_interruptions', 'left_at',
                              'user_id, breakout_id, session_id, left_at', cutover);
    PERFORM partition_by_time('session_activity', 'at',
                              'user_id, breakout_id, session_id, at', cutover);
    PERFORM partition_by_time('comments', 'created_at',
                              'org_id, breakout_id, id, created_at', cutover);
    -- Check event ids go on from where the column's identity was, from a sequence of their
    -- own (a partitioned table has no identity column before PostgreSQL 17).
    ALTER TABLE school_visits DROP CONSTRAINT school_visits_checkin_id_fkey;
    ALTER TABLE school_visits DROP CONSTRAINT school_visits_checkout_id_fkey;
    ALTER TABLE fever_alerts DROP CONSTRAINT fever_alerts_event_id_fkey;
    CREATE SEQUENCE check_event_ids AS bigint;
    EXECUTE format('SELECT setval(''check_event_ids'', greatest((SELECT max(id) FROM check_events),'
                   ' (SELECT last_value FROM %s), 1))', pg_get_serial_sequence('check_events', 'id'));
    ALTER TABLE check_events ALTER COLUMN id DROP IDENTITY;
    ALTER TABLE check_events ALTER COLUMN id SET DEFAULT nextval('check_event_ids');
    PERFORM partition_by_time('check_events', 'at', 'id, at', cutover);
    ALTER SEQUENCE check_event_ids OWNED BY check_events.id;
    FOR v IN SELECT * FROM remade_views ORDER BY depth LOOP
        EXECUTE format('CREATE VIEW %I AS %s', v.name, v.definition);
        FOREACH reader IN ARRAY v.readers LOOP
            EXECUTE format('GRANT SELECT ON %I TO %I', v.name, reader);
        END LOOP;
    END LOOP;
END
$$;

-- A breakout's record begins no later than its first session and its first comment.
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
    IF TG_OP = 'INSERT' THEN
        UPDATE breakouts AS b SET sessions_from = f.first
        FROM (SELECT org_id, breakout_id, min(entry_ts) AS first FROM changed GROUP BY 1, 2) AS f
        WHERE b.org_id = f.org_id AND b.id = f.breakout_id AND b.sessions_from > f.first;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION note_first_comments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE breakouts AS b SET sessions_from = f.first
    FROM (SELECT org_id, breakout_id, min(created_at) AS first FROM changed GROUP BY 1, 2) AS f
    WHERE b.org_id = f.org_id AND b.id = f.breakout_id AND b.sessions_from > f.first;
    RETURN NULL;
END $$;
CREATE TRIGGER comments_inserted AFTER INSERT ON comments
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION note_first_comments();

-- A session's exit names its entry time, so the exit finds its partition (NULL: a journal
-- written before, which finds it by the key alone).
ALTER TYPE session_exit_row ADD ATTRIBUTE entry_ts timestamptz;

-- The reports' live figures read the session partitions of the days asked for (and the week
-- before, where a stay may begin) only: bounds over all the days, in UTC with a day to spare
-- each side for the places' time zones, are known before the query runs, so the partitions
-- outside them are never read (the exact bounds per place stay as they were, 0008).
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
         AND i.entry_ts >= (SELECT min(d) FROM unnest(p_days) AS d)::timestamp
                           AT TIME ZONE 'UTC' - interval '8 days'
         AND i.entry_ts < (SELECT max(d) FROM unnest(p_days) AS d)::timestamp
                          AT TIME ZONE 'UTC' + interval '2 days'
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
         AND i.entry_ts >= (SELECT min(d) FROM unnest(p_days) AS d)::timestamp
                           AT TIME ZONE 'UTC' - interval '8 days'
         AND i.entry_ts < (SELECT max(d) FROM unnest(p_days) AS d)::timestamp
                          AT TIME ZONE 'UTC' + interval '2 days'
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
