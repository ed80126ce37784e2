-- Breakouts and the attendance sessions opened in them.

CREATE TABLE breakouts (
    id           text PRIMARY KEY,
    org_id       text NOT NULL,
    name         text,
    starts_at    timestamptz,
    ends_at      timestamptz,
    ended_at     timestamptz,
    -- Open sessions allowed per user; NULL takes the server's default, 0 means unlimited.
    device_limit integer CHECK (device_limit >= 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX breakouts_org ON breakouts (org_id);

CREATE TABLE attendance_sessions (
    user_id         text NOT NULL,
    breakout_id     text NOT NULL REFERENCES breakouts (id),
    session_id      text NOT NULL,
    session_type    text NOT NULL DEFAULT 'live'
                    CHECK (session_type IN ('live', 'on_demand')),
    entry_ts        timestamptz NOT NULL,
    exit_ts         timestamptz,
    exit_reason     text CHECK (exit_reason IN ('leave', 'disconnect', 'switched',
                    'device_limit', 'breakout_ended', 'node_lost', 'shutdown')),
    user_name       text,
    org_id          text NOT NULL,
    client_ip       inet,
    city            text,
    region          text,
    country_code    text,
    latitude        double precision,
    longitude       double precision,
    browser         text,
    browser_version text,
    os              text,
    os_version      text,
    device_type     text,
    user_agent      text,
    node_id         text,
    PRIMARY KEY (user_id, breakout_id, session_id),
    CHECK ((exit_ts IS NULL) = (exit_reason IS NULL)),
    CHECK (exit_ts IS NULL OR exit_ts >= entry_ts)
);

-- "Who is still in this breakout" and "what happened in it, in order".
CREATE INDEX attendance_sessions_open ON attendance_sessions (breakout_id) WHERE exit_ts IS NULL;
CREATE INDEX attendance_sessions_by_time ON attendance_sessions (breakout_id, entry_ts);

-- A session counts as attended only when both of its timestamps are set.
CREATE VIEW attended AS
SELECT s.*,
       s.exit_ts - s.entry_ts AS duration,
       extract(epoch FROM s.exit_ts - s.entry_ts)::double precision AS duration_seconds
FROM attendance_sessions AS s
WHERE s.exit_ts IS NOT NULL;
