-- Files derived from a media file (its thumbnail, ...) count towards storage with it: storage is what lies on disk.
ALTER TABLE billing.usage ADD COLUMN derived_bytes bigint NOT NULL DEFAULT 0 CHECK (derived_bytes >= 0);
