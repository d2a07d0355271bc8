-- Media whose enqueue was lost (Redis killed before its append-only file was synced, or down when the upload
-- completed and the client never retried) waits in 'queued' with no job. The requeuer finds such media across
-- users with the same device as migrations 002 and 003: a read-only policy on while the function runs, user ids out.
CREATE INDEX media_files_queued ON ingest.media_files (updated_at) WHERE status = 'queued';

CREATE POLICY media_files_stale_queued_scan ON ingest.media_files FOR SELECT
    USING (status = 'queued' AND current_setting('app.stale_queued_scan', true) = 'on');

CREATE FUNCTION ingest.users_with_stale_queued_media(updated_before timestamptz) RETURNS SETOF uuid
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('app.stale_queued_scan', 'on', true);
    RETURN QUERY SELECT DISTINCT m.user_id FROM ingest.media_files m
        WHERE m.status = 'queued' AND m.updated_at < updated_before;
    PERFORM set_config('app.stale_queued_scan', '', true);
END
$$;
