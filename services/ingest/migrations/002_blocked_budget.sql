-- Media waits in status 'blocked_budget' while its owner's monthly budget is used up, and is queued again when
-- the budget is raised or the month rolls over.
ALTER TABLE ingest.media_files DROP CONSTRAINT media_files_status_check;
ALTER TABLE ingest.media_files ADD CONSTRAINT media_files_status_check
    CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'blocked_budget'));
CREATE INDEX media_files_blocked ON ingest.media_files (user_id) WHERE status = 'blocked_budget';

-- Finding whose media waits needs one look across users, which the owner policy forbids. Rather than a role
-- with BYPASSRLS, a read-only policy admits blocked rows while app.blocked_scan is on, and the only code that
-- turns it on is the function below, which turns it off again before it returns user ids and nothing else;
-- every following step (re-checking the budget, queueing the media) runs as that user under the owner policy.
-- SECURITY DEFINER would add nothing: the caller is the owner, and FORCE ROW LEVEL SECURITY binds the owner
-- too. (Like app.user_id, the flag guards against query bugs, not against code running as the ingest role.)
CREATE POLICY media_files_blocked_scan ON ingest.media_files FOR SELECT
    USING (status = 'blocked_budget' AND current_setting('app.blocked_scan', true) = 'on');

-- (A SET clause would scope the flag more neatly, but only superusers may attach custom settings to functions.)
CREATE FUNCTION ingest.users_with_blocked_media() RETURNS SETOF uuid
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('app.blocked_scan', 'on', true);
    RETURN QUERY SELECT DISTINCT m.user_id FROM ingest.media_files m WHERE m.status = 'blocked_budget';
    PERFORM set_config('app.blocked_scan', '', true);
END
$$;
