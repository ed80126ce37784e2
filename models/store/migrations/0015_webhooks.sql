-- Webhooks (README "Webhooks"): an org's admins register endpoints; what happens is put in a
-- durable outbox in the same transaction as the change itself (triggers below), and every node
-- delivers from it, one node per delivery at a time (a lease), retrying with backoff for a day.
CREATE TABLE webhook_endpoints (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     text NOT NULL,
    url        text NOT NULL,
    secret     text NOT NULL,              -- signs each delivery (HMAC-SHA256); shown once
    events     text[] NOT NULL CHECK (cardinality(events) > 0),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at timestamptz                 -- deleted: nothing more is sent to it
);
CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_id) WHERE deleted_at IS NULL;

-- What happened, once per event; `body` is rendered at its first delivery and then sent as the
-- same bytes on every attempt to every endpoint (its id is the deliveries' idempotency key).
CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      text NOT NULL,
    event       text NOT NULL,
    subject     jsonb NOT NULL,             -- what it is about (ids), to render the body from
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    body        text
);

CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        uuid NOT NULL REFERENCES webhook_events (id),
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_until    timestamptz,            -- a node is sending it until then
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,            -- a 2xx: never sent again
    gave_up_at      timestamptz,            -- retried for a day, or its endpoint deleted
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

-- One event for the org, delivered to each of its endpoints that wants it (none: no event).
CREATE FUNCTION enqueue_webhook(p_org text, p_event text, p_subject jsonb) RETURNS void
LANGUAGE sql AS $$
WITH wanted AS (
    SELECT id FROM webhook_endpoints
    WHERE org_id = p_org AND deleted_at IS NULL AND p_event = ANY(events)
),
made AS (
    INSERT INTO webhook_events (org_id, event, subject)
    SELECT p_org, p_event, p_subject WHERE EXISTS (SELECT FROM wanted)
    RETURNING id
)
INSERT INTO webhook_deliveries (event_id, endpoint_id)
SELECT made.id, wanted.id FROM made, wanted
$$;

CREATE FUNCTION breakout_ended_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enqueue_webhook(NEW.org_id, 'breakout.ended', jsonb_build_object('breakoutId', NEW.id));
    RETURN NEW;
END $$;

CREATE TRIGGER breakout_ended_webhook
    AFTER UPDATE OF ended_at ON breakouts
    FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
    EXECUTE FUNCTION breakout_ended_webhook();

CREATE FUNCTION attendance_corrected_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM enqueue_webhook(
        NEW.org_id, 'attendance.corrected',
        jsonb_build_object('correctionId', NEW.id,
                           'action', CASE TG_OP WHEN 'INSERT' THEN 'made' ELSE 'withdrawn' END));
    RETURN NEW;
END $$;

CREATE TRIGGER attendance_corrected_made
    AFTER INSERT ON attendance_corrections
    FOR EACH ROW EXECUTE FUNCTION attendance_corrected_webhook();
CREATE TRIGGER attendance_corrected_withdrawn
    AFTER UPDATE OF withdrawn_at ON attendance_corrections
    FOR EACH ROW WHEN (OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL)
    EXECUTE FUNCTION attendance_corrected_webhook();
