-- A primary contact of an organisation sees all of its tickets (MISSION ACC8); a standard
-- contact sees those they ask or are copied on.
ALTER TABLE contacts ADD COLUMN is_primary BOOLEAN NOT NULL DEFAULT FALSE;
