-- Embedding spaces (model + dimension) and re-indexing from one to another.
-- Exactly one space is `active`: searches embed queries with its model and compare them with its vectors only.
-- A `building` space is being filled by a re-index (segments lacking a vector in it are embedded batch by batch)
-- and becomes active in one transaction once complete; `inactive` spaces keep their vectors (a switch back
-- resumes from them) but are neither searched nor written.
CREATE TABLE search.embedding_spaces (
    space            text PRIMARY KEY,
    model            text NOT NULL,
    dim              integer NOT NULL CHECK (dim BETWEEN 1 AND 4096),
    model_dir        text,  -- the model folder; NULL for the built-in all-MiniLM-L6-v2
    state            text NOT NULL CHECK (state IN ('active', 'building', 'inactive')),
    segments_total   bigint NOT NULL DEFAULT 0,
    segments_done    bigint NOT NULL DEFAULT 0,
    started_at       timestamptz,
    finished_at      timestamptz,
    last_error       text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX embedding_spaces_one_active ON search.embedding_spaces ((true)) WHERE state = 'active';
CREATE UNIQUE INDEX embedding_spaces_one_building ON search.embedding_spaces ((true)) WHERE state = 'building';
INSERT INTO search.embedding_spaces (space, model, dim, state)
VALUES ('all-MiniLM-L6-v2/384', 'all-MiniLM-L6-v2', 384, 'active');

-- The users who have an index, so that a re-index can visit each of them in its own user transaction
-- (row-level security hides every other table's rows from a transaction without app.user_id). It holds user
-- ids only, no content, and therefore has no row-level security of its own.
CREATE TABLE search.index_users (
    user_id uuid PRIMARY KEY
);
-- Backfill from search.media: the owner may lift FORCE for the length of this transaction only.
ALTER TABLE search.media NO FORCE ROW LEVEL SECURITY;
INSERT INTO search.index_users (user_id) SELECT DISTINCT user_id FROM search.media;
ALTER TABLE search.media FORCE ROW LEVEL SECURITY;
