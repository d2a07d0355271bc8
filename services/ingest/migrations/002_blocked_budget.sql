-- Media waits in status 'blocked_budget' while its owner's monthly budget is used up, and is queued again when
-- the budget is raised or the month rolls over.
ALTER TABLE ingest.media_files DROP CONSTRAINT media_files_status_check;
ALTER TABLE ingest.media_files ADD CONSTRAINT media_files_status_check
    CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'blocked_budget'));
CREATE INDEX media_files_blocked ON ingest.media_files (user_id) WHERE status = 'blocked_budget';

-- Finding whose media waits needs one look across users, which the owner policy forbids. Rather than a role
-- with BYPASSRLS, a read-only policy admits blocked rows when app.blocked_scan is on, and the only code that
-- turns it on is this function's SET clause, which scopes the setting to the function call: it returns user
-- ids and nothing else, and every following step (re-checking the budget, queueing the media) runs as that
-- user under the owner policy. SECURITY DEFINER would add nothing: the caller is the owner, and FORCE ROW
-- LEVEL SECURITY binds the owner too. (Like app.user_id, the flag guards against query bugs, not against code
-- running as the ingest role, which could set either.)
CREATE POLICY media_files_blocked_scan ON ingest.media_files FOR SELECT
    USING (status = 'blocked_budget' AND current_setting('app.blocked_scan', true) = 'on');

CREATE FUNCTION ingest.users_with_blocked_media() RETURNS SETOF uuid
    LANGUAGE sql STABLE
    SET app.blocked_scan = 'on'
    AS $$ SELECT DISTINCT user_id FROM ingest.media_files WHERE status = 'blocked_budget' $$;
