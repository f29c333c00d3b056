-- One row per `maildesk import` of a set of mbox files or Maildirs, keyed by a digest of
-- what was found in them (names, sizes, dates, in the order they are applied): `done`
-- messages of `total` are applied, counted in the same transaction as their effect, so
-- that a run stopped by Ctrl-C or a crash resumes where it stopped, and a second run of
-- the same files finds `finished_at` set and changes nothing.
CREATE TABLE imports (
    key          TEXT    PRIMARY KEY,
    sources      TEXT    NOT NULL,
    total        BIGINT  NOT NULL,
    done         BIGINT  NOT NULL DEFAULT 0,
    started_at   BIGINT  NOT NULL,
    finished_at  BIGINT
);
