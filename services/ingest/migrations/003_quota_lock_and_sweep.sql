-- Quotas that hold and uploads that end. counted_at: when billing counted a completed upload; until then the
-- upload still counts as pending, so a create that runs between completing and counting cannot slip past a limit.
ALTER TABLE ingest.uploads ADD COLUMN counted_at timestamptz;
UPDATE ingest.uploads SET counted_at = created_at WHERE media_id IS NOT NULL;
CREATE INDEX uploads_open ON ingest.uploads (user_id, expires_at) WHERE media_id IS NULL;

-- The sweeper finds abandoned uploads (never completed, expired) across users with the same device as
-- users_with_blocked_media (migration 002): a read-only policy on while the function below runs, user ids out.
CREATE POLICY uploads_abandoned_scan ON ingest.uploads FOR SELECT
    USING (media_id IS NULL AND current_setting('app.abandoned_scan', true) = 'on');

CREATE FUNCTION ingest.users_with_abandoned_uploads(expired_before timestamptz) RETURNS SETOF uuid
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    PERFORM set_config('app.abandoned_scan', 'on', true);
    RETURN QUERY SELECT DISTINCT u.user_id FROM ingest.uploads u
        WHERE u.media_id IS NULL AND u.expires_at < expired_before;
    PERFORM set_config('app.abandoned_scan', '', true);
END
$$;
