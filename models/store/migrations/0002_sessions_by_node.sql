-- A dead node's open sessions are found by its id (the reaper); partial, so it stays small.
CREATE INDEX attendance_sessions_open_by_node ON attendance_sessions (node_id)
    WHERE exit_ts IS NULL;
