-- Upload sessions and media records. Every row belongs to one user; row-level security shows a transaction
-- only the rows of the user in app.user_id (and nothing when it is unset).
CREATE TABLE ingest.uploads (
    upload_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    storage_key  text NOT NULL UNIQUE,
    expires_at   timestamptz NOT NULL,
    media_id     uuid,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ingest.media_files (
    media_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL,
    upload_id    uuid NOT NULL UNIQUE REFERENCES ingest.uploads (upload_id) ON DELETE CASCADE,
    filename     text NOT NULL,
    content_type text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'document')),
    size_bytes   bigint NOT NULL,
    storage_key  text NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    error        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_files_user_created ON ingest.media_files (user_id, created_at DESC, media_id DESC);

ALTER TABLE ingest.uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest.uploads FORCE ROW LEVEL SECURITY;
ALTER TABLE ingest.media_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest.media_files FORCE ROW LEVEL SECURITY;

CREATE POLICY uploads_owner ON ingest.uploads
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY media_files_owner ON ingest.media_files
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
