-- People: faces found in a user's pictures and video scenes, grouped into people the user can name, merge and hide.
-- A face belongs to at most one person; an unassigned face waits for the clustering pass (trove_search.people).
CREATE TABLE search.people (
    person_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    name       text NOT NULL DEFAULT '',
    hidden     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX people_user ON search.people (user_id);

CREATE TABLE search.faces (
    face_id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL,
    media_id   uuid NOT NULL REFERENCES search.media (media_id) ON DELETE CASCADE,
    person_id  uuid REFERENCES search.people (person_id) ON DELETE SET NULL,
    -- The moment of a video scene the face is in (0, 0 for a picture).
    start_s    double precision NOT NULL DEFAULT 0 CHECK (start_s >= 0),
    end_s      double precision NOT NULL DEFAULT 0 CHECK (end_s >= start_s),
    -- The box as fractions (0-1) of the picture or frame it was found in.
    box        real[] NOT NULL CHECK (cardinality(box) = 4),
    score      real NOT NULL,
    embedding  vector(128) NOT NULL,  -- dlib's face descriptor: same person below Euclidean distance 0.6
    crop       bytea,                 -- a small JPEG of the face, made at analysis time
    -- Placed by the user (moved, or in a merged person): clustering never moves it again.
    pinned     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX faces_media ON search.faces (media_id);
CREATE INDEX faces_person ON search.faces (person_id);
CREATE INDEX faces_user_unassigned ON search.faces (user_id) WHERE person_id IS NULL;
CREATE INDEX faces_embedding_hnsw ON search.faces USING hnsw (embedding vector_l2_ops);

ALTER TABLE search.people ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.people FORCE ROW LEVEL SECURITY;
ALTER TABLE search.faces ENABLE ROW LEVEL SECURITY;
ALTER TABLE search.faces FORCE ROW LEVEL SECURITY;
CREATE POLICY people_owner ON search.people
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
CREATE POLICY faces_owner ON search.faces
    USING (user_id = nullif(current_setting('app.user_id', true), '')::uuid);
