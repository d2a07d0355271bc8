-- Hybrid search: full text over a segment's text plus its keywords (broader terms, entities, key phrases),
-- per-media facts for filters, and search history.
ALTER TABLE search.media_text ADD COLUMN keywords text NOT NULL DEFAULT '';
DROP INDEX search.media_text_tsv;
ALTER TABLE search.media_text DROP COLUMN tsv;
ALTER TABLE search.media_text ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', text), 'A') || setweight(to_tsvector('english', keywords), 'B')
) STORED;
CREATE INDEX media_text_tsv ON search.media_text USING gin (tsv);

CREATE TABLE search.media (
    media_id    uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    kind        text NOT NULL,
    taken_at    timestamptz,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    duration_s  double precision,
    has_faces   boolean NOT NULL DEFAULT false,
    language    text NOT NULL DEFAULT ''
);
CREATE INDEX media_user ON search.media (user_id);

CREATE TABLE search.search_history (
    search_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      uuid NOT NULL,
    query        text NOT NULL,
    filters      jsonb NOT NULL DEFAULT '{}',
    result_count integer NOT NULL,
    latency_ms   double precision NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX search_history_user_created ON search.search_history (user_id, created_at DESC);

ALTER TABLE search.media ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.media FORCE ROW LEVEL SECURITY;
ALTER TABLE search.search_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.search_history FORCE ROW LEVEL SECURITY;
CREATE POLICY media_owner ON search.media
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY search_history_owner ON search.search_history
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
