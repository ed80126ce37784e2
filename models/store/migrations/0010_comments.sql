-- A breakout's room is also its chat: comments, kept as the record keeps sessions. A comment's
-- id is made by the node that took it (time first, so ids sort as comments were posted), which
-- lets a comment be journaled while PostgreSQL is away and replayed without duplicates.
CREATE TABLE comments (
    org_id      text NOT NULL,
    breakout_id text NOT NULL,
    id          text NOT NULL,
    user_id     text NOT NULL,
    user_name   text,
    text        text,                  -- NULL once anonymised or deleted by retention
    reply_to    text,
    created_at  timestamptz NOT NULL,
    deleted_at  timestamptz,           -- a host or admin took it down: never sent again
    deleted_by  text,
    PRIMARY KEY (org_id, breakout_id, id),
    FOREIGN KEY (org_id, breakout_id) REFERENCES breakouts (org_id, id),
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);
-- "Newest N of a breakout" and "before an id" read the key backwards; per user for reports.
CREATE INDEX comments_by_user ON comments (org_id, breakout_id, user_id);
CREATE INDEX comments_by_time ON comments (created_at);

-- A host mutes a user in a breakout until a time; the last mute stands.
CREATE TABLE comment_mutes (
    org_id      text NOT NULL,
    breakout_id text NOT NULL,
    user_id     text NOT NULL,
    until       timestamptz NOT NULL,
    muted_by    text NOT NULL,
    muted_at    timestamptz NOT NULL,
    PRIMARY KEY (org_id, breakout_id, user_id),
    FOREIGN KEY (org_id, breakout_id) REFERENCES breakouts (org_id, id)
);

-- Analysts read comments through a view: a deleted comment's text is not in it.
CREATE VIEW breakout_comments AS
SELECT org_id, breakout_id, id AS comment_id, user_id, user_name,
       CASE WHEN deleted_at IS NULL THEN text END AS text, reply_to, created_at, deleted_at,
       deleted_by
FROM comments;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'attendance_analyst') THEN
        GRANT SELECT ON breakout_comments TO attendance_analyst;
    END IF;
END $$;
