-- Rules are versioned (README "Attendance rules"): a breakout's presence rule, a school's
-- thresholds and the server's defaults each keep every version with the time it took effect,
-- so a report can be asked for under the rule that held then or under today's, and names the
-- versions it used. The first version of each is in force since always (valid_from NULL).

-- A school may set its own thresholds; NULL takes the server's.
ALTER TABLE schools
    ADD COLUMN day_min_hours double precision CHECK (day_min_hours BETWEEN 0 AND 24),
    ADD COLUMN period_min_percent double precision CHECK (period_min_percent BETWEEN 0 AND 100);

CREATE TABLE rule_versions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id             text NOT NULL,      -- '' for the server's defaults
    scope_kind         text NOT NULL CHECK (scope_kind IN ('server', 'breakout', 'school')),
    scope_id           text NOT NULL,      -- the breakout's or school's id; '' for the server
    version            integer NOT NULL CHECK (version > 0),
    valid_from         timestamptz,        -- NULL: since always (the first version)
    -- A breakout's own rule (NULL: the server's), and the server's default for breakouts.
    min_minutes        double precision,
    min_percent        double precision,
    -- A school's own thresholds (NULL: the server's), and the server's defaults for schools.
    day_min_hours      double precision,
    period_min_percent double precision,
    UNIQUE (org_id, scope_kind, scope_id, version),
    CHECK ((version = 1) = (valid_from IS NULL))
);

-- A version is history: never changed or deleted (a scope's versions go with the org's data
-- only when retention one day says so, as corrections).
CREATE FUNCTION rule_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('attendance.purging', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'a rule version is never changed or deleted'
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER rule_versions_append_only
    BEFORE UPDATE OR DELETE ON rule_versions
    FOR EACH ROW EXECUTE FUNCTION rule_versions_append_only();

-- The next version of a scope, in force from now (the first: since always).
CREATE FUNCTION add_rule_version(p_org text, p_kind text, p_id text, p_minutes double precision,
                                 p_percent double precision, p_day_hours double precision,
                                 p_period_percent double precision)
RETURNS void LANGUAGE sql AS $$
INSERT INTO rule_versions (org_id, scope_kind, scope_id, version, valid_from, min_minutes,
                           min_percent, day_min_hours, period_min_percent)
SELECT p_org, p_kind, p_id, coalesce(max(version), 0) + 1,
       CASE WHEN max(version) IS NULL THEN NULL ELSE clock_timestamp() END,
       p_minutes, p_percent, p_day_hours, p_period_percent
FROM rule_versions
WHERE org_id = p_org AND scope_kind = p_kind AND scope_id = p_id
$$;

-- Whatever writes a breakout or a school (the API, a join that creates a breakout, a script),
-- a new rule is a new version. (A row's lock serialises two changes of one breakout.)
CREATE FUNCTION record_breakout_rule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR (NEW.present_min_minutes, NEW.present_min_percent)
          IS DISTINCT FROM (OLD.present_min_minutes, OLD.present_min_percent) THEN
        PERFORM add_rule_version(NEW.org_id, 'breakout', NEW.id, NEW.present_min_minutes,
                                 NEW.present_min_percent, NULL, NULL);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER record_breakout_rule
    AFTER INSERT OR UPDATE OF present_min_minutes, present_min_percent ON breakouts
    FOR EACH ROW EXECUTE FUNCTION record_breakout_rule();

CREATE FUNCTION record_school_rule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR (NEW.day_min_hours, NEW.period_min_percent)
          IS DISTINCT FROM (OLD.day_min_hours, OLD.period_min_percent) THEN
        PERFORM add_rule_version(NEW.org_id, 'school', NEW.id, NULL, NULL, NEW.day_min_hours,
                                 NEW.period_min_percent);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER record_school_rule
    AFTER INSERT OR UPDATE OF day_min_hours, period_min_percent ON schools
    FOR EACH ROW EXECUTE FUNCTION record_school_rule();

-- What exists already: its rule today is its first version, since always.
INSERT INTO rule_versions (org_id, scope_kind, scope_id, version, min_minutes, min_percent)
SELECT org_id, 'breakout', id, 1, present_min_minutes, present_min_percent FROM breakouts;
INSERT INTO rule_versions (org_id, scope_kind, scope_id, version)
SELECT org_id, 'school', id, 1 FROM schools;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON rule_versions TO attendance_analyst;
    END IF;
END $$;
