-- Document segments are pages: their 1-based page number (0 for segments that are not pages).
ALTER TABLE search.media_text ADD COLUMN page integer NOT NULL DEFAULT 0 CHECK (page >= 0);
