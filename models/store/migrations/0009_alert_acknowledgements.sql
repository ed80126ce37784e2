-- A host or admin acknowledges a fever alert from the dashboard: who did, and when (the first
-- acknowledgement stands). An org's alerts are listed newest first across its schools.

ALTER TABLE fever_alerts
    ADD COLUMN acknowledged_by text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD CONSTRAINT fever_alerts_acknowledged_whole
        CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL));

CREATE INDEX fever_alerts_org ON fever_alerts (org_id, id DESC);
