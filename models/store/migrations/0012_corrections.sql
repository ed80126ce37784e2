-- Corrections of the record (README "Corrections"). The sessions and visits the server recorded
-- are never changed: a host or admin who knows better adds a correction of their own, and the
-- reports apply it beside the recorded figure.
--   breakout: mark a user present or absent (latest active mark wins), or add a stay the system
--             could not see (its time joins the user's recorded time, each moment once);
--   school:   mark a user's school day present or absent.
-- A correction is never deleted or edited: it can only be withdrawn, once, with who and why.
CREATE TABLE attendance_corrections (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           text NOT NULL,
    place_kind       text NOT NULL CHECK (place_kind IN ('breakout', 'school')),
    place_id         text NOT NULL,        -- the breakout's or the school's id in the org
    user_id          text NOT NULL,
    day              date,                 -- a school day (local to the school); NULL otherwise
    kind             text NOT NULL CHECK (kind IN ('present', 'absent', 'stay')),
    reason           text NOT NULL,
    note             text,
    stay_from        timestamptz,
    stay_to          timestamptz,
    -- The mark that was in force for the same user (and day) when this one was made.
    replaces         bigint REFERENCES attendance_corrections (id),
    made_by          text NOT NULL,
    made_by_role     text NOT NULL,
    made_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    withdrawn_at     timestamptz,
    withdrawn_by     text,
    withdrawn_reason text,
    CHECK ((place_kind = 'school') = (day IS NOT NULL)),
    CHECK (place_kind = 'breakout' OR kind <> 'stay'),
    CHECK ((kind = 'stay') = (stay_from IS NOT NULL AND stay_to IS NOT NULL)),
    CHECK (stay_from IS NULL OR stay_from < stay_to),
    CHECK (stay_from IS NOT NULL OR stay_to IS NULL),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_reason IS NULL))
);
-- A place's corrections (its reports and its log), and the org's log in order.
CREATE INDEX attendance_corrections_by_place
    ON attendance_corrections (org_id, place_kind, place_id, user_id, id);
CREATE INDEX attendance_corrections_by_org ON attendance_corrections (org_id, id);
CREATE INDEX attendance_corrections_replaces ON attendance_corrections (replaces)
    WHERE replaces IS NOT NULL;

-- The table is an append-only log: an UPDATE may only withdraw a correction not withdrawn yet;
-- a DELETE is refused (retention, when it one day reaches corrections, must say so first with
-- SET LOCAL attendance.purging = 'on').
CREATE FUNCTION attendance_corrections_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(current_setting('attendance.purging', true), '') = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'a correction is never deleted; withdraw it instead'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.withdrawn_at IS NOT NULL
       OR (NEW.id, NEW.org_id, NEW.place_kind, NEW.place_id, NEW.user_id, NEW.day, NEW.kind,
           NEW.reason, NEW.note, NEW.stay_from, NEW.stay_to, NEW.replaces, NEW.made_by,
           NEW.made_by_role, NEW.made_at)
          IS DISTINCT FROM
          (OLD.id, OLD.org_id, OLD.place_kind, OLD.place_id, OLD.user_id, OLD.day, OLD.kind,
           OLD.reason, OLD.note, OLD.stay_from, OLD.stay_to, OLD.replaces, OLD.made_by,
           OLD.made_by_role, OLD.made_at) THEN
        RAISE EXCEPTION 'a correction is never changed; only withdrawn, once'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER attendance_corrections_append_only
    BEFORE UPDATE OR DELETE ON attendance_corrections
    FOR EACH ROW EXECUTE FUNCTION attendance_corrections_append_only();

-- A breakout's active corrections per user: the mark in force (the latest active one), every
-- active correction's id, and whether any adds a stay.
CREATE VIEW breakout_corrections AS
SELECT org_id, place_id AS breakout_id, user_id,
       (array_agg(kind ORDER BY id DESC) FILTER (WHERE kind <> 'stay'))[1] AS mark,
       array_agg(id ORDER BY id) AS correction_ids,
       bool_or(kind = 'stay') AS adds_stays
FROM attendance_corrections
WHERE place_kind = 'breakout' AND withdrawn_at IS NULL
GROUP BY org_id, place_id, user_id;

-- A user's live time in a breakout with the stays corrections add: closed live sessions (less
-- their interruptions) and active stays as one sweep line, each moment counted once. Only
-- users with such stays are in it; the others' time is the recorded one. (Each branch says
-- "has a stay" itself, so a filter on org_id and breakout_id reaches every table.)
CREATE VIEW corrected_breakout_seconds AS
WITH moves AS (
    SELECT s.org_id, s.breakout_id, s.user_id, edge.at, edge.step
    FROM attendance_sessions AS s
    CROSS JOIN LATERAL (VALUES (s.entry_ts, 1), (s.exit_ts, -1)) AS edge(at, step)
    WHERE s.session_type = 'live' AND s.exit_ts IS NOT NULL
      AND EXISTS (SELECT FROM attendance_corrections AS c
                  WHERE c.org_id = s.org_id AND c.place_kind = 'breakout'
                    AND c.place_id = s.breakout_id AND c.user_id = s.user_id
                    AND c.kind = 'stay' AND c.withdrawn_at IS NULL)
    UNION ALL
    SELECT s.org_id, s.breakout_id, s.user_id, edge.at, edge.step
    FROM attendance_sessions AS s
    JOIN session_interruptions AS g
      ON g.user_id = s.user_id AND g.breakout_id = s.breakout_id
     AND g.session_id = s.session_id
    CROSS JOIN LATERAL (VALUES (g.left_at, -1), (g.back_at, 1)) AS edge(at, step)
    WHERE s.session_type = 'live' AND s.exit_ts IS NOT NULL AND s.interruptions > 0
      AND EXISTS (SELECT FROM attendance_corrections AS c
                  WHERE c.org_id = s.org_id AND c.place_kind = 'breakout'
                    AND c.place_id = s.breakout_id AND c.user_id = s.user_id
                    AND c.kind = 'stay' AND c.withdrawn_at IS NULL)
    UNION ALL
    SELECT c.org_id, c.place_id, c.user_id, edge.at, edge.step
    FROM attendance_corrections AS c
    CROSS JOIN LATERAL (VALUES (c.stay_from, 1), (c.stay_to, -1)) AS edge(at, step)
    WHERE c.place_kind = 'breakout' AND c.kind = 'stay' AND c.withdrawn_at IS NULL
),
levels AS (
    SELECT org_id, breakout_id, user_id, at,
           sum(step) OVER w AS level,
           lead(at) OVER w AS next_at
    FROM moves
    WINDOW w AS (PARTITION BY org_id, breakout_id, user_id ORDER BY at, step DESC
                 ROWS UNBOUNDED PRECEDING)
)
SELECT org_id, breakout_id, user_id,
       coalesce(sum(extract(epoch FROM next_at - at)) FILTER (WHERE level > 0), 0)::float8
           AS seconds
FROM levels
GROUP BY org_id, breakout_id, user_id;

-- A school's active day marks: the latest active mark of each user and day.
CREATE VIEW school_day_corrections AS
SELECT DISTINCT ON (org_id, place_id, user_id, day)
       org_id, place_id AS school_id, user_id, day, kind AS mark, id AS correction_id
FROM attendance_corrections
WHERE place_kind = 'school' AND withdrawn_at IS NULL
ORDER BY org_id, place_id, user_id, day, id DESC;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON attendance_corrections, breakout_corrections, corrected_breakout_seconds,
                        school_day_corrections TO attendance_analyst;
    END IF;
END $$;
