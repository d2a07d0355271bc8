-- What results show of a file, kept with its facts so that a search asks ingest nothing; '' for files indexed
-- before, which are filled in from ingest the first time they are shown.
ALTER TABLE search.media ADD COLUMN filename text NOT NULL DEFAULT '';
ALTER TABLE search.media ADD COLUMN content_type text NOT NULL DEFAULT '';

-- Files deleted by their owner. Search decides which files results show, so an analysis that finishes after the
-- delete must not index the file again: indexing a file named here is refused. Ids are never reused; keyed by user
-- as well, so no one else's row (unseen under row-level security) can stand in for the owner's.
CREATE TABLE search.deleted_media (
    user_id    uuid NOT NULL,
    media_id   uuid NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, media_id)
);

ALTER TABLE search.deleted_media ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.deleted_media FORCE ROW LEVEL SECURITY;
CREATE POLICY deleted_media_owner ON search.deleted_media
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
