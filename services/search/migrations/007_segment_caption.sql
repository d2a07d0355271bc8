-- What results show people: a picture's readable caption (its `text` is written for search) and the number of a
-- video scene's stored keyframe picture (0 when none). Neither is searched.
ALTER TABLE search.media_text ADD COLUMN caption text NOT NULL DEFAULT '';
ALTER TABLE search.media_text ADD COLUMN frame integer NOT NULL DEFAULT 0 CHECK (frame >= 0);
