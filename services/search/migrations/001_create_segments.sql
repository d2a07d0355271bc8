-- Searchable segments (a whole image, a video scene, a span of speech, a page) and their vectors.
-- Vectors of different embedding spaces (model + dimension) live in one table but are never compared:
-- every query filters on `space`, and each space has its own partial HNSW index over a fixed-dimension cast.
CREATE TABLE search.media_text (
    segment_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL,
    media_id   uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('image', 'scene', 'speech', 'text', 'page')),
    start_s    double precision NOT NULL DEFAULT 0 CHECK (start_s >= 0),
    end_s      double precision NOT NULL DEFAULT 0 CHECK (end_s >= start_s),
    text       text NOT NULL DEFAULT '',
    tsv        tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX media_text_media ON search.media_text (media_id);
CREATE INDEX media_text_tsv ON search.media_text USING gin (tsv);

CREATE TABLE search.media_embeddings (
    segment_id bigint NOT NULL REFERENCES search.media_text (segment_id) ON DELETE CASCADE,
    space      text NOT NULL,
    user_id    uuid NOT NULL,
    media_id   uuid NOT NULL,
    embedding  vector NOT NULL,
    PRIMARY KEY (segment_id, space)
);
CREATE INDEX media_embeddings_media ON search.media_embeddings (media_id);
CREATE INDEX media_embeddings_minilm_hnsw ON search.media_embeddings
    USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE space = 'all-MiniLM-L6-v2/384';

ALTER TABLE search.media_text ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.media_text FORCE ROW LEVEL SECURITY;
ALTER TABLE search.media_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.media_embeddings FORCE ROW LEVEL SECURITY;

CREATE POLICY media_text_owner ON search.media_text
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY media_embeddings_owner ON search.media_embeddings
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
