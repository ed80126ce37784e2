-- The writer sends a batch as one array of rows per kind, not one array per column: asyncpg
-- encodes a row of a composite type with one check, an element of a column array with one each.
-- Fields in the order models/sessions.py builds them.
CREATE TYPE session_open_row AS (
    user_id         text,
    breakout_id     text,
    session_id      text,
    session_type    text,
    entry_ts        timestamptz,
    user_name       text,
    org_id          text,
    client_ip       text,
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
    exit_ts         timestamptz,
    exit_reason     text
);

CREATE TYPE session_exit_row AS (
    user_id     text,
    breakout_id text,
    session_id  text,
    exit_ts     timestamptz,
    exit_reason text
);
