-- Signed attendance certificates (README "Certificates"). Every public key that ever signed
-- one stays here, so /.well-known/jwks.json keeps listing a key after it is rotated out.
CREATE TABLE signing_keys (
    kid        text PRIMARY KEY,               -- RFC 7638 thumbprint of the public key
    public_jwk jsonb NOT NULL,
    first_used timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- A certificate as issued: the compact JWS, and the facts it attests (to tell whether a later
-- correction changed them). A changed record makes a new certificate that supersedes this one;
-- a user no longer present has theirs revoked. One current certificate per user and breakout,
-- or per user, school and period.
CREATE TABLE certificates (
    id             text PRIMARY KEY,           -- a random UUID: the credential's id
    org_id         text NOT NULL,
    place_kind     text NOT NULL CHECK (place_kind IN ('breakout', 'school')),
    place_id       text NOT NULL,
    user_id        text NOT NULL,
    period_from    date,                       -- a school period's first and last day
    period_to      date,
    issued_at      timestamptz NOT NULL,
    kid            text NOT NULL REFERENCES signing_keys (kid),
    facts          jsonb NOT NULL,
    jws            text NOT NULL,
    superseded_by  text REFERENCES certificates (id) DEFERRABLE INITIALLY DEFERRED,
    revoked_at     timestamptz,
    revoked_reason text,
    CHECK ((place_kind = 'school') = (period_from IS NOT NULL AND period_to IS NOT NULL)),
    CHECK (period_from <= period_to),
    CHECK (superseded_by IS NULL OR revoked_at IS NULL),
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
);
CREATE UNIQUE INDEX certificates_current
    ON certificates (org_id, place_kind, place_id, user_id, period_from, period_to)
    NULLS NOT DISTINCT
    WHERE superseded_by IS NULL AND revoked_at IS NULL;
CREATE INDEX certificates_by_user ON certificates (org_id, place_kind, place_id, user_id);

-- Issued is issued: only the end of a certificate's life (superseded or revoked, once) is ever
-- written after it, and nothing is deleted unless retention says so.
CREATE FUNCTION certificates_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF coalesce(current_setting('attendance.purging', true), '') = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'a certificate is never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.superseded_by IS NOT NULL OR OLD.revoked_at IS NOT NULL
       OR (NEW.id, NEW.org_id, NEW.place_kind, NEW.place_id, NEW.user_id, NEW.period_from,
           NEW.period_to, NEW.issued_at, NEW.kid, NEW.facts, NEW.jws)
          IS DISTINCT FROM
          (OLD.id, OLD.org_id, OLD.place_kind, OLD.place_id, OLD.user_id, OLD.period_from,
           OLD.period_to, OLD.issued_at, OLD.kid, OLD.facts, OLD.jws) THEN
        RAISE EXCEPTION 'a certificate is never changed; only superseded or revoked, once'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER certificates_append_only
    BEFORE UPDATE OR DELETE ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_append_only();
