-- How to rebuild the embedder of a space that is not a local model folder: an OpenAI-compatible server's
-- {"provider": "openai", "base_url": ..., "model": ..., "dimensions": ...} (never its key, which stays in the
-- settings). NULL for local models, which `model_dir` names.
ALTER TABLE search.embedding_spaces ADD COLUMN source jsonb;
